/**
 * The layers of src/, top down; an import may only go down (or stay in its own layer), never up:
 *
 *   entries     src/entries/
 *   front ends  src/actions/, src/cli*.ts
 *   phases      src/phases/
 *   domain      src/{conda,deploy,engines,github,installer,manifest,repo,setup,solver,summary}/
 *   net, git    src/net/, src/git/
 *   util        src/util/, src/version.ts
 *
 * Domain folders may import each other, but no two of them both ways. Checked in CI by
 * `npx depcruise src` (.ci/run).
 */
const ENTRIES = '^src/entries/';
const FRONT = '^src/(actions/|cli[^/]*[.]ts$)';
const PHASES = '^src/phases/';
const DOMAIN = '^src/(conda|deploy|engines|github|installer|manifest|repo|setup|solver|summary)/';
const NET_GIT = '^src/(net|git)/';
const UTIL = '^src/(util/|version[.]ts$)';

/** A rule that forbids `from` to import any of `to`. */
const up = (name, from, to) => ({ name, severity: 'error', from: { path: from }, to: { path: to } });

module.exports = {
  forbidden: [
    up('front-end-imports-entry', FRONT, [ENTRIES]),
    up('phase-imports-front-end', PHASES, [ENTRIES, FRONT]),
    up('domain-imports-phase', DOMAIN, [ENTRIES, FRONT, PHASES]),
    up('net-or-git-imports-domain', NET_GIT, [ENTRIES, FRONT, PHASES, DOMAIN]),
    up('util-imports-higher', UTIL, [ENTRIES, FRONT, PHASES, DOMAIN, NET_GIT]),
    {
      name: 'no-circular-folders',
      comment: 'Two folders that import each other (engines <-> setup, manifest <-> solver were) are one tangle.',
      severity: 'error',
      scope: 'folder',
      from: { path: '^src/' },
      to: { circular: true },
    },
    {
      name: 'no-circular',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    {
      name: 'src-imports-tests',
      severity: 'error',
      from: { path: '^src/' },
      to: { path: '^(tests|bench|scripts)/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    includeOnly: '^src/',
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { extensions: ['.ts', '.js'] },
  },
};
