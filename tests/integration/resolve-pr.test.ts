/**
 * resolve's pull-request and check modes end to end: a real bare origin, the seed channel (real
 * archives, the builtin solver) and a loopback stand-in for the GitHub REST API that records and
 * checks every request. No network beyond 127.0.0.1.
 */
import * as path from 'node:path';
import { buildSeedChannel, SEED_VERSIONS } from '../fixtures/channel/index.js';
import { GitHubApiServer } from '../fixtures/github-api-server.js';
import { GitFixture } from '../fixtures/git-repo.js';
import { OctokitGitHubClient } from '../../src/github/client.js';
import type { PullRequestEvent } from '../../src/github/event.js';
import { autotag } from '../../src/phases/autotag.js';
import { resolve, type ResolveResult } from '../../src/phases/resolve.js';
import { DEFAULT_CHANNEL_ALIAS, type ResolveMode } from '../../src/phases/settings.js';
import { MemoryLogger } from '../../src/util/logger.js';

const TOKEN = 'ghs_loopbackToken123';
const REPO = 'octo/envs';

let fx: GitFixture;
let api: GitHubApiServer;
let channelDir: string;
let channelUrl: string;

const spec = (packages: string[]): string => `channels:\n  - ${channelUrl}\nenv:\n${packages.map((p) => `  - ${p}\n`).join('')}`;

async function run(mode: ResolveMode, pullRequest?: PullRequestEvent, dryRun = false): Promise<{ result: ResolveResult; logger: MemoryLogger }> {
  const logger = new MemoryLogger();
  const github = new OctokitGitHubClient({ token: TOKEN, repository: REPO, baseUrl: api.url });
  const result = await resolve(
    {
      repository: fx.origin,
      envs: [],
      dryRun,
      platform: 'linux-64',
      channelAlias: DEFAULT_CHANNEL_ALIAS,
      engine: 'builtin',
      mode,
      workDir: fx.root,
      cacheDir: path.join(fx.root, 'repodata cache'),
    },
    { logger, github, pullRequest },
  );
  expect(logger.text()).not.toContain(TOKEN);
  return { result, logger };
}

const ref = async (name: string): Promise<string | undefined> => (await fx.refs())[name];
const parentOf = (rev: string): Promise<string> => fx.originGit(['rev-parse', `${rev}^`]);

/** Every request carried the token, and none went anywhere but the repository's endpoints. */
function expectAuthorized(): void {
  for (const r of api.requests) {
    expect(r.authorization).toBe(`token ${TOKEN}`);
    expect(r.path.startsWith(`/repos/${REPO}/`)).toBe(true);
    expect(r.status).toBeLessThan(300);
  }
}

beforeEach(async () => {
  fx = await GitFixture.create();
  channelDir = path.join(fx.root, 'seed channel');
  channelUrl = (await buildSeedChannel(channelDir)).url;
  api = await GitHubApiServer.start({ token: TOKEN, repository: REPO });
});
afterEach(async () => {
  await api.close();
  await fx.cleanup();
});

test('pull-request mode: a new environment is pushed; a change opens a pull request, a later change updates it, going back closes it', async () => {
  await fx.commit('default', { 'env.spec': spec(['python']) });

  // No manifest/default yet: nothing to open a pull request into, so the first manifest is pushed.
  const first = await run('pull-request');
  expect(first.result).toMatchObject({ changed: ['default'], failed: [], pullRequests: [] });
  expect(await fx.show('manifest/default', 'env.manifest')).toContain(`python-${SEED_VERSIONS.python3}-0`);
  expect(api.requests).toEqual([]);
  const base = (await ref('refs/heads/manifest/default')) as string;

  // python 3.11.5 appears: a pull request from gitenv/update/default, manifest/default untouched.
  await buildSeedChannel(channelDir, { newerPython: true });
  const opened = await run('pull-request');
  expect(opened.result.failed).toEqual([]);
  expect(opened.result.changed).toEqual(['default']);
  expect(opened.result.pullRequests).toEqual([{ env: 'default', action: 'opened', number: 1, url: api.htmlUrl(1) }]);
  expect(await ref('refs/heads/manifest/default')).toBe(base);
  const proposed = (await ref('refs/heads/gitenv/update/default')) as string;
  expect(await parentOf(proposed)).toBe(base);
  expect(await fx.show(proposed, 'env.manifest')).toContain(`python-${SEED_VERSIONS.python3Newer}-0`);
  expect(api.calls()).toEqual([`GET /repos/${REPO}/pulls`, `POST /repos/${REPO}/pulls`]);
  expect(api.requests[0].query).toMatchObject({ state: 'open', head: 'octo:gitenv/update/default', base: 'manifest/default' });
  const created = api.requests[1].body as Record<string, string>;
  expect(created).toMatchObject({ head: 'gitenv/update/default', base: 'manifest/default', title: 'Manifest update for default' });
  expect(created.body).toContain('<!-- gitenv-update:default -->');
  expect(created.body).toContain(`| \`python\` | \`${SEED_VERSIONS.python3}\` \`0\` | \`${SEED_VERSIONS.python3Newer}\` \`0\` |`);
  expect(created.body).toMatch(/#### Upgraded/);
  expect(created.body).toMatch(/\| Change \| [+-]?[\d.]+ k?B \|/); // both sizes known: the old one from repodata
  expect(created.body).toContain('env.spec is unchanged.');
  expect(opened.result.summary).toContain(`[#1](${api.htmlUrl(1)}) opened`);
  expect(opened.result.summary).toContain('<details><summary>Proposed for manifest/default</summary>');
  expectAuthorized();

  // numpy added to env.spec: the branch is force-updated (still on manifest/default), the body refreshed.
  await fx.commit('default', { 'env.spec': spec(['python', 'numpy']) });
  api.requests.length = 0;
  const updated = await run('pull-request');
  expect(updated.result.pullRequests).toEqual([{ env: 'default', action: 'updated', number: 1, url: api.htmlUrl(1) }]);
  const proposed2 = (await ref('refs/heads/gitenv/update/default')) as string;
  expect(proposed2).not.toBe(proposed);
  expect(await parentOf(proposed2)).toBe(base);
  expect(api.calls()).toEqual([`GET /repos/${REPO}/pulls`, `PATCH /repos/${REPO}/pulls/1`]);
  const patch = api.requests[1].body as Record<string, string>;
  expect(patch.title).toBe('Manifest update for default');
  expect(patch.body).toMatch(/#### Added\n\n[^#]*\| `numpy` \| `1\.26\.4` \| `py311_0` \|/);
  expect(patch.body).toContain('+  - numpy');
  expect(api.pulls).toHaveLength(1);
  expect(api.pulls[0].body).toBe(patch.body);
  expectAuthorized();

  // Nothing new: no push, no edit.
  api.requests.length = 0;
  const same = await run('pull-request');
  expect(same.result.pullRequests).toEqual([{ env: 'default', action: 'unchanged', number: 1, url: api.htmlUrl(1) }]);
  expect(await ref('refs/heads/gitenv/update/default')).toBe(proposed2);
  expect(api.calls()).toEqual([`GET /repos/${REPO}/pulls`]);

  // env.spec and the channel back to what manifest/default holds: the pull request is closed, the branch deleted.
  await fx.commit('default', { 'env.spec': spec(['python']) });
  await buildSeedChannel(channelDir);
  api.requests.length = 0;
  const closed = await run('pull-request');
  expect(closed.result).toMatchObject({ changed: [], failed: [], pullRequests: [{ env: 'default', action: 'closed', number: 1, url: api.htmlUrl(1) }] });
  expect(await ref('refs/heads/gitenv/update/default')).toBeUndefined();
  expect(await ref('refs/heads/manifest/default')).toBe(base);
  expect(api.calls()).toEqual([`GET /repos/${REPO}/pulls`, `POST /repos/${REPO}/issues/1/comments`, `PATCH /repos/${REPO}/pulls/1`]);
  expect(api.requests[2].body).toEqual({ state: 'closed' });
  expect(api.pulls[0].state).toBe('closed');
  expectAuthorized();

  // Nothing left behind: the next run asks nothing.
  api.requests.length = 0;
  expect((await run('pull-request')).result.pullRequests).toEqual([]);
  expect(api.requests).toEqual([]);
});

test('check mode: the pull request head (a fork: refs/pull/<n>/head) is resolved; one comment, edited on later pushes, nothing pushed', async () => {
  await fx.commit('default', { 'env.spec': spec(['python']) });
  await run('push');
  // A pull request from a fork: its commits are only reachable from refs/pull/<n>/head.
  const pr = api.addPull({ head: 'contrib', base: 'default', title: 'Add numpy', body: '' });
  const publish = async (packages: string[]): Promise<string> => {
    const sha = await fx.commit('contrib', { 'env.spec': spec(packages) }, { from: 'origin/default' });
    await fx.originGit(['update-ref', `refs/pull/${pr.number}/head`, sha]);
    await fx.originGit(['update-ref', '-d', 'refs/heads/contrib']);
    return sha;
  };
  api.comments.push({ id: 5, issue: pr.number, body: 'Looks good to me' });
  const before = await fx.refs();
  const head1 = await publish(['python', 'numpy']);
  const refs1 = await fx.refs();

  const first = await run('check', { number: pr.number, baseRef: 'default', headSha: head1 });
  expect(first.result).toMatchObject({ changed: ['default'], failed: [] });
  expect(await fx.refs()).toEqual(refs1); // nothing pushed
  expect(refs1['refs/heads/manifest/default']).toBe(before['refs/heads/manifest/default']);
  expect(api.calls()).toEqual([`GET /repos/${REPO}/issues/1/comments`, `POST /repos/${REPO}/issues/1/comments`]);
  const comment = api.requests[1].body?.body as string;
  expect(comment.startsWith('<!-- gitenv-check:default -->\n')).toBe(true);
  expect(comment).toContain(head1.slice(0, 12));
  expect(comment).toMatch(/#### Added\n\n[^#]*\| `numpy` \| `1\.26\.4` \| `py311_0` \|/);
  expect(comment).toContain('+  - numpy');
  expect(first.result.summary).toContain(comment);
  expect(first.result.summary).toMatch(/^### gitenv resolve \(check\)/m);
  expect(first.result.summary).toMatch(/\| `default` \| \d+ \| 1 \| 0 \| 0 \| would change \|/);
  expectAuthorized();

  // A second push to the pull request: the same comment is edited (dry-run, as review.yml runs it:
  // the comment is check mode's report, not a change to the repository).
  const head2 = await publish(['python 2.*']);
  api.requests.length = 0;
  const second = await run('check', { number: pr.number, baseRef: 'default', headSha: head2 }, true);
  expect(second.result.changed).toEqual(['default']);
  expect(api.calls()).toEqual([`GET /repos/${REPO}/issues/1/comments`, `PATCH /repos/${REPO}/issues/comments/1000`]);
  expect(api.comments.map((c) => c.id)).toEqual([5, 1000]);
  const edited = api.comments[1].body;
  expect(edited).toContain(head2.slice(0, 12));
  expect(edited).toMatch(/#### Downgraded\n\n[^#]*\| `python` \| `3\.11\.4` `0` \| `2\.7\.18` `0` \|/);
  expect(edited).not.toContain('numpy');
  expect(api.comments[0].body).toBe('Looks good to me');

  // Run again on the same head: the comment already says it.
  api.requests.length = 0;
  await run('check', { number: pr.number, baseRef: 'default', headSha: head2 });
  expect(api.calls()).toEqual([`GET /repos/${REPO}/issues/1/comments`]);

  // A read-only token (a fork's pull request): a warning, the diff stays in the summary.
  api.forbidden.push(/^PATCH /);
  const head3 = await publish(['python', 'pyhello']);
  api.requests.length = 0;
  const readOnly = await run('check', { number: pr.number, baseRef: 'default', headSha: head3 });
  expect(readOnly.result).toMatchObject({ changed: ['default'], failed: [] });
  expect(readOnly.result.summary).toContain('`pyhello`');
  expect(readOnly.logger.lines('warning').join('\n')).toMatch(/could not edit comment 1000: 403 .*pull-requests: write.*job summary only/);
  expect(api.requests.map((r) => r.status)).toEqual([200, 403]);
  api.forbidden.length = 0;

  // A pull request into a branch that is no environment: nothing to check, nothing asked.
  api.requests.length = 0;
  const other = await run('check', { number: pr.number, baseRef: 'main', headSha: head2 });
  expect(other.result).toMatchObject({ changed: [], failed: [] });
  expect(api.requests).toEqual([]);
});

test('pull-request mode: dry-run asks and pushes nothing; a merged pull request is what autotag tags, and its branch is cleaned up', async () => {
  await fx.commit('default', { 'env.spec': spec(['python']) });
  await run('push');
  await buildSeedChannel(channelDir, { newerPython: true });

  const refs = await fx.refs();
  const dry = await run('pull-request', undefined, true);
  expect(dry.result).toMatchObject({ changed: ['default'], failed: [], pullRequests: [{ env: 'default', action: 'would open' }] });
  expect(await fx.refs()).toEqual(refs);
  expect(api.requests).toEqual([]);

  const opened = await run('pull-request');
  expect(opened.result.pullRequests).toMatchObject([{ env: 'default', action: 'opened', number: 1 }]);
  const proposed = (await ref('refs/heads/gitenv/update/default')) as string;

  // The reviewer merges (fast-forward); GitHub closes the pull request, the branch stays.
  await fx.originGit(['update-ref', 'refs/heads/manifest/default', proposed]);
  api.pulls[0].state = 'closed';
  const tagged = await autotag({ repository: fx.origin, envs: [], dryRun: false, workDir: fx.root }, { logger: new MemoryLogger() });
  expect(tagged.tags).toHaveLength(1);
  expect((await fx.refs())[`refs/tags/${tagged.tags[0]}`]).toBeDefined();
  expect(await fx.originGit(['rev-parse', `${tagged.tags[0]}^{commit}`])).toBe(proposed);

  api.requests.length = 0;
  const after = await run('pull-request');
  expect(after.result).toMatchObject({ changed: [], failed: [], pullRequests: [] });
  expect(await ref('refs/heads/gitenv/update/default')).toBeUndefined();
  expect(api.calls()).toEqual([`GET /repos/${REPO}/pulls`]);
  expectAuthorized();
});

test('pull-request mode: a pull request closed without merging is not opened again until the proposal changes', async () => {
  api.headOf = (branch) => ref(`refs/heads/${branch}`);
  await fx.commit('default', { 'env.spec': spec(['python']) });
  await run('push');
  await buildSeedChannel(channelDir, { newerPython: true });
  expect((await run('pull-request')).result.pullRequests).toMatchObject([{ action: 'opened', number: 1 }]);
  expect(api.pulls[0].headSha).toBe(await ref('refs/heads/gitenv/update/default'));

  // The reviewer does not want python 3.11.5 and closes the pull request.
  api.pulls[0].state = 'closed';
  api.requests.length = 0;
  const declined = await run('pull-request');
  expect(declined.result).toMatchObject({ changed: [], failed: [], pullRequests: [{ env: 'default', action: 'declined', number: 1 }] });
  expect(api.calls()).toEqual([`GET /repos/${REPO}/pulls`, `GET /repos/${REPO}/pulls`]);
  expect(api.requests.map((r) => r.query.state)).toEqual(['open', 'closed']);
  expect(declined.logger.lines('info').join('\n')).toContain('closed without merging; not opened again');

  // env.spec changes: a new proposal, a new pull request.
  await fx.commit('default', { 'env.spec': spec(['python', 'numpy']) });
  api.requests.length = 0;
  const reopened = await run('pull-request');
  expect(reopened.result.pullRequests).toMatchObject([{ env: 'default', action: 'opened', number: 2 }]);
  expect(api.calls()).toEqual([`GET /repos/${REPO}/pulls`, `POST /repos/${REPO}/pulls`]);
  expectAuthorized();
});
