/**
 * The resolve action bundle in pull-request and check modes, as a runner starts it: INPUT_*,
 * GITHUB_REPOSITORY, GITHUB_EVENT_PATH, GITHUB_OUTPUT, with `github-api-url` pointing at the loopback
 * GitHub API. Proves the front end builds the client from the token and the event from the payload.
 * The bundle is built here (not committed).
 */
import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { ensureBundles } from '../fixtures/bundles.js';
import { buildSeedChannel } from '../fixtures/channel/index.js';
import { GitHubApiServer } from '../fixtures/github-api-server.js';
import { GitFixture } from '../fixtures/git-repo.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
let bundles: Record<string, string>;
const TOKEN = 'ghs_actionBundleToken456';

let fx: GitFixture;
let api: GitHubApiServer;

function runBundle(extra: NodeJS.ProcessEnv): Promise<{ code: number; stdout: string; stderr: string }> {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^(INPUT_|GITHUB_|RUNNER_|GITENV_)/.test(k)) env[k] = v;
  Object.assign(env, { XDG_CACHE_HOME: path.join(fx.root, 'xdg cache'), RUNNER_TEMP: path.join(fx.root, 'runner temp') }, extra);
  return new Promise((resolve) => {
    execFile(process.execPath, [bundles.resolve], { cwd: ROOT, env, maxBuffer: 32 * 1024 * 1024 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

async function emptyFile(name: string): Promise<string> {
  const file = path.join(fx.root, name);
  await fs.writeFile(file, '');
  return file;
}

/** `name<<EOF\nvalue\nEOF` blocks of a GITHUB_OUTPUT file. */
function outputs(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of text.matchAll(/^([\w-]+)<<(\S+)\n([\s\S]*?)\n\2$/gm)) out[m[1]] = m[3];
  return out;
}

beforeAll(async () => {
  bundles = await ensureBundles(['resolve']);
}, 300_000);
beforeEach(async () => {
  fx = await GitFixture.create();
  api = await GitHubApiServer.start({ token: TOKEN, repository: 'octo/envs' });
});
afterEach(async () => {
  await api.close();
  await fx.cleanup();
});

test('mode pull-request: the token and github-api-url reach the client; output pull-requests', async () => {
  const channelDir = path.join(fx.root, 'channel');
  const channel = await buildSeedChannel(channelDir);
  await fx.commit('default', { 'env.spec': `channels:\n  - ${channel.url}\nenv:\n  - python 3.*\n` });
  const common = { INPUT_REPOSITORY: fx.origin, INPUT_TOKEN: TOKEN, 'INPUT_GITHUB-API-URL': api.url, GITHUB_REPOSITORY: 'octo/envs' };
  const first = await runBundle({ ...common, INPUT_MODE: 'push', GITHUB_OUTPUT: await emptyFile('out0') });
  expect(first.code).toBe(0);
  await buildSeedChannel(channelDir, { newerPython: true });

  const outFile = path.join(fx.root, 'out1');
  await fs.writeFile(outFile, '');
  const ran = await runBundle({ ...common, INPUT_MODE: 'pull-request', GITHUB_OUTPUT: outFile });
  expect(ran.stderr).toBe('');
  expect(ran.code).toBe(0);
  expect(ran.stdout).toContain(`::add-mask::${TOKEN}`);
  expect(ran.stdout.replaceAll(`::add-mask::${TOKEN}`, '')).not.toContain(TOKEN);
  const out = outputs(await fs.readFile(outFile, 'utf8'));
  expect(JSON.parse(out.changed)).toEqual(['default']);
  expect(JSON.parse(out['pull-requests'])).toEqual([{ env: 'default', action: 'opened', number: 1, url: api.htmlUrl(1) }]);
  expect(api.calls()).toEqual(['GET /repos/octo/envs/pulls', 'POST /repos/octo/envs/pulls']);
  expect(api.requests.every((r) => r.authorization === `token ${TOKEN}`)).toBe(true);
  expect(await fx.show('gitenv/update/default', 'env.manifest')).toContain('python-3.11.5-0');
}, 120_000);

test('mode check: the pull request comes from GITHUB_EVENT_PATH; one comment', async () => {
  const channel = await buildSeedChannel(path.join(fx.root, 'channel'));
  await fx.commit('default', { 'env.spec': `channels:\n  - ${channel.url}\nenv:\n  - python 3.*\n` });
  const common = { INPUT_REPOSITORY: fx.origin, INPUT_TOKEN: TOKEN, 'INPUT_GITHUB-API-URL': api.url, GITHUB_REPOSITORY: 'octo/envs' };
  expect((await runBundle({ ...common, INPUT_MODE: 'push', GITHUB_OUTPUT: await emptyFile('out0') })).code).toBe(0);
  const head = await fx.commit('add-numpy', { 'env.spec': `channels:\n  - ${channel.url}\nenv:\n  - python 3.*\n  - numpy\n` }, { from: 'origin/default' });
  const pr = api.addPull({ head: 'add-numpy', base: 'default', title: 'numpy', body: '' });
  const eventPath = path.join(fx.root, 'event.json');
  await fs.writeFile(eventPath, JSON.stringify({ action: 'synchronize', pull_request: { number: pr.number, base: { ref: 'default' }, head: { sha: head, ref: 'add-numpy' } } }));
  const summaryFile = path.join(fx.root, 'summary.md');
  await fs.writeFile(summaryFile, '');

  const ran = await runBundle({ ...common, INPUT_MODE: 'check', 'INPUT_DRY-RUN': 'true', GITHUB_EVENT_PATH: eventPath, GITHUB_STEP_SUMMARY: summaryFile, GITHUB_OUTPUT: await emptyFile('out1') });
  expect(ran.stderr).toBe('');
  expect(ran.code).toBe(0);
  expect(api.calls()).toEqual([`GET /repos/octo/envs/issues/${pr.number}/comments`, `POST /repos/octo/envs/issues/${pr.number}/comments`]);
  expect(api.comments).toHaveLength(1);
  expect(api.comments[0].body).toMatch(/^<!-- gitenv-check:default -->\n/);
  expect(api.comments[0].body).toContain('| `numpy` |');
  expect(await fs.readFile(summaryFile, 'utf8')).toContain('| `numpy` |');
}, 120_000);
