/**
 * A repository made the way conda-gitenv's README made one: a plain (non-bare) `git init` repository
 * with the environment branches `default` and `legacy` (legacy started from default), env.spec
 * written with a heredoc (`env: ` with a trailing space, a blank last line), manifest/<env> branches
 * holding env.spec and an env.manifest of that era (URL with a trailing `/`, spaces, no env.lock),
 * annotated tags "Automatic tag of <env>.", `labels/pre-prod.txt` written with echo, and the
 * `default` branch checked out at the end. gitenv must read it unchanged, and must refuse to push
 * to the checked-out branch with the README's advice.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { autotag } from '../../src/phases/autotag.js';
import { label } from '../../src/phases/label.js';
import { EnvRepository, latestTag } from '../../src/repo/env-repository.js';
import { parseEnvSpec } from '../../src/repo/env-spec.js';
import { checkVersionSpec } from '../../src/repo/version-check.js';
import { ConfigurationError } from '../../src/util/errors.js';
import { MemoryLogger } from '../../src/util/logger.js';
import { git, GitFixture } from '../fixtures/git-repo.js';

const DEFAULT_SPEC = 'channels:\n - defaults\nenv: \n - python\n - numpy\n\n';
const LEGACY_SPEC = 'channels:\n - defaults\nenv:\n - python 2.*\n - numpy\n\n';
const MANIFEST = (python: string) => `https://repo.continuum.io/pkgs/free/linux-64/   openssl-1.0.2d-0\nhttps://repo.continuum.io/pkgs/free/linux-64/   ${python}\n`;

let fx: GitFixture;
let envRepo: string;
let logger: MemoryLogger;

async function commitFiles(files: Record<string, string>, message: string, date: string): Promise<void> {
  for (const [file, content] of Object.entries(files)) {
    await fs.mkdir(path.dirname(path.join(envRepo, file)), { recursive: true });
    await fs.writeFile(path.join(envRepo, file), content);
  }
  await git(['add', '--all'], envRepo);
  await git(['commit', '--quiet', '-m', message], envRepo, { GIT_COMMITTER_DATE: date, GIT_AUTHOR_DATE: date });
}

async function tag(name: string, env: string, date: string): Promise<void> {
  await git(['tag', '-a', '-m', `Automatic tag of ${env}.`, name], envRepo, { GIT_COMMITTER_DATE: date });
}

beforeAll(async () => {
  fx = await GitFixture.create();
  envRepo = path.join(fx.root, 'environments');
  await git(['init', '--quiet', envRepo], fx.root);
  await git(['checkout', '--quiet', '-b', 'default'], envRepo);
  await commitFiles({ 'env.spec': DEFAULT_SPEC.replace(' - numpy\n', '') }, 'Added the default environment.', '2015-11-11T09:00:00Z');
  await commitFiles({ 'env.spec': DEFAULT_SPEC }, 'Updated the default environment to include numpy.', '2015-11-12T09:00:00Z');
  await git(['checkout', '--quiet', '-b', 'legacy'], envRepo);
  await commitFiles({ 'env.spec': LEGACY_SPEC }, "Created a 'legacy' environment for py2k.", '2015-11-12T09:10:00Z');

  await git(['checkout', '--quiet', '-b', 'manifest/default', 'default'], envRepo);
  await commitFiles({ 'env.manifest': MANIFEST('python-3.5.0-1') }, 'Manifest update for default', '2015-11-12T10:00:00Z');
  await tag('env-default-2015_11_12', 'default', '2015-11-12T10:30:00Z');
  await commitFiles({ 'env.manifest': MANIFEST('python-3.5.0-2') }, 'Manifest update for default', '2015-11-12T11:00:00Z');
  await tag('env-default-2015_11_12-1', 'default', '2015-11-12T11:30:00Z');
  await git(['checkout', '--quiet', '-b', 'manifest/legacy', 'legacy'], envRepo);
  await commitFiles({ 'env.manifest': MANIFEST('python-2.7.10-2') }, 'Manifest update for legacy', '2015-11-12T11:00:00Z');
  await tag('env-legacy-2015_11_12', 'legacy', '2015-11-12T11:30:00Z');

  await git(['checkout', '--quiet', 'default'], envRepo);
  await commitFiles({ 'labels/pre-prod.txt': 'env-default-2015_11_12-1\n' }, 'Added a pre-prod label.', '2015-11-13T09:00:00Z');
});
afterAll(async () => {
  await fx.cleanup();
});
beforeEach(() => {
  logger = new MemoryLogger();
});

test('is read correctly: environments, manifests, tags, labels, latest, env.spec', async () => {
  const repo = await EnvRepository.open({ repository: envRepo, logger, workDir: fx.root });
  try {
    const snap = await repo.snapshot();
    expect(snap.envs.map((e) => [e.name, e.labels])).toEqual([
      ['default', { 'pre-prod': 'env-default-2015_11_12-1' }],
      ['legacy', {}],
    ]);
    expect(snap.manifests.map((m) => [m.env, m.committerDate.toISOString()])).toEqual([
      ['default', '2015-11-12T11:00:00.000Z'],
      ['legacy', '2015-11-12T11:00:00.000Z'],
    ]);
    expect(snap.tags.map((t) => [t.name, t.env, t.deployedName, t.annotated])).toEqual([
      ['env-default-2015_11_12', 'default', '2015_11_12', true],
      ['env-default-2015_11_12-1', 'default', '2015_11_12-1', true],
      ['env-legacy-2015_11_12', 'legacy', '2015_11_12', true],
    ]);
    expect(latestTag(snap, 'default')?.name).toBe('env-default-2015_11_12-1');
    expect(latestTag(snap, 'legacy')?.name).toBe('env-legacy-2015_11_12');
    expect(logger.lines('warning')).toEqual([]);
    const spec = (env: string) => repo.readFile(env, 'env.spec').then((b) => parseEnvSpec(b as Buffer, { env }, checkVersionSpec));
    expect(await spec('default')).toMatchObject({ channels: ['defaults'], specs: ['python', 'numpy'] });
    expect(await spec('legacy')).toMatchObject({ channels: ['defaults'], specs: ['python 2.*', 'numpy'] });
    expect(await repo.readFile('manifest/default', 'env.lock')).toBeUndefined();
  } finally {
    await repo.close();
  }
});

test('autotag finds every manifest head tagged and does nothing', async () => {
  const before = await git(['show-ref'], envRepo);
  const result = await autotag({ repository: envRepo, envs: [], dryRun: false, workDir: fx.root }, { logger });
  expect(result.tags).toEqual([]);
  expect(await git(['show-ref'], envRepo)).toBe(before);
});

test('label pushes to a branch that is not checked out', async () => {
  const result = await label({ repository: envRepo, envs: [], dryRun: false, workDir: fx.root, tag: 'env-legacy-2015_11_12', nextOnly: false }, { logger });
  expect(result.labels).toEqual({ next: 'env-legacy-2015_11_12' });
  expect(await git(['show', 'legacy:labels/next.txt'], envRepo)).toBe('env-legacy-2015_11_12');
});

test("label on the checked-out branch is refused with the README's advice, nothing pushed", async () => {
  const before = await git(['show-ref'], envRepo);
  const attempt = label({ repository: envRepo, envs: [], dryRun: false, workDir: fx.root, tag: 'env-default-2015_11_12-1', nextOnly: false }, { logger });
  await expect(attempt).rejects.toBeInstanceOf(ConfigurationError);
  await expect(attempt).rejects.toThrow(/branch default is checked out there.*"detached head".*git checkout --detach/s);
  expect(await git(['show-ref'], envRepo)).toBe(before);
});
