/**
 * resolve through its two front ends, as users run them: the CLI bundle (`gitenv resolve`) and the
 * action bundle (`node dist/resolve/index.js` with INPUT_* variables, GITHUB_OUTPUT and
 * GITHUB_STEP_SUMMARY files). Both bundles are built here, not committed.
 */
import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { buildSeedChannel, serveChannel, SEED_VERSIONS, type BuiltChannel, type ChannelServer } from '../fixtures/channel/index.js';
import { ensureBundles } from '../fixtures/bundles.js';
import { GitFixture } from '../fixtures/git-repo.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
let bundles: Record<string, string>;
const USER = 'bundle-user';
const KEY = 'bundle-k3y-do-not-print';

let fx: GitFixture;
let channel: BuiltChannel;
let server: ChannelServer;

interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}

function node(args: string[], env: NodeJS.ProcessEnv): Promise<Ran> {
  return new Promise((resolve) => {
    execFile(process.execPath, args, { cwd: ROOT, env, maxBuffer: 32 * 1024 * 1024 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

/** The environment a child gets: ours without anything GitHub- or gitenv-specific. */
function cleanEnv(extra: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!/^(INPUT_|GITHUB_|RUNNER_|GITENV_|CONDA_OVERRIDE_)/.test(k)) env[k] = v;
  }
  return { ...env, XDG_CACHE_HOME: path.join(fx.root, 'xdg cache'), ...extra };
}

beforeAll(async () => {
  bundles = await ensureBundles(['cli', 'resolve']);
  fx = await GitFixture.create();
  channel = await buildSeedChannel(path.join(fx.root, 'channel'));
  server = await serveChannel(path.join(fx.root, 'channel'), { auth: { user: USER, password: KEY } });
}, 300_000);
afterAll(async () => {
  await server?.close();
  await fx?.cleanup();
});

test("gitenv resolve (CLI bundle): pushes, prints the old tool's line, credentials from GITENV_API_*", async () => {
  await fx.commit('default', { 'env.spec': `channels:\n  - ${server.url}\nenv:\n  - python 2.*\n` });
  await fx.commit('broken', { 'env.spec': `channels:\n  - ${channel.url}\nenv:\n  - python 9.*\n` });
  const ran = await node([bundles.cli, 'resolve', fx.origin], cleanEnv({ GITENV_API_USER: USER, GITENV_API_KEY: KEY }));
  expect(ran.stdout).toContain('Pushing changes to manifest/default');
  expect(ran.code).toBe(1);
  expect(ran.stderr).toMatch(/environment "broken" cannot be solved/);
  expect(ran.stderr.trim().split('\n').pop()).toBe('error: gitenv resolve: 1 environment(s) failed: broken');
  expect(ran.stdout + ran.stderr).not.toContain(KEY);
  expect(await fx.show('manifest/default', 'env.manifest')).toContain(`${server.url}/linux-64\tpython-${SEED_VERSIONS.python2}-0`);

  // Only the good one, dry-run: nothing to do, exit 0.
  const again = await node([bundles.cli, 'resolve', fx.origin, '--envs', 'default', '--dry-run', '--api-user', USER, '--api-key', KEY], cleanEnv({}));
  expect(again.code).toBe(0);
  expect(again.stdout).not.toContain('Pushing changes');
});

test('the resolve action bundle: INPUT_* in, changed output and job summary out', async () => {
  await fx.commit('legacy', { 'env.spec': `channels:\n  - ${channel.url}\nenv:\n  - python 2.*\n  - numpy\n` });
  const outputFile = path.join(fx.root, 'github output');
  const summaryFile = path.join(fx.root, 'step summary.md');
  await fs.writeFile(outputFile, '');
  await fs.writeFile(summaryFile, '');
  const ran = await node(
    [bundles.resolve],
    cleanEnv({
      INPUT_REPOSITORY: fx.origin,
      INPUT_ENVS: 'legacy',
      'INPUT_DRY-RUN': 'false',
      INPUT_PLATFORM: 'linux-64',
      'INPUT_API-USER': USER,
      'INPUT_API-KEY': KEY,
      GITHUB_OUTPUT: outputFile,
      GITHUB_STEP_SUMMARY: summaryFile,
      RUNNER_TEMP: path.join(fx.root, 'runner temp'),
    }),
  );
  expect(ran.stderr).toBe('');
  expect(ran.code).toBe(0);
  expect(ran.stdout).toContain('Pushing changes to manifest/legacy');
  expect(ran.stdout).toContain(`::add-mask::${KEY}`);
  expect(ran.stdout.replaceAll(`::add-mask::${KEY}`, '')).not.toContain(KEY);
  const output = await fs.readFile(outputFile, 'utf8');
  expect(output).toMatch(/^changed<<(\S+)\n\["legacy"\]\n\1\n$/);
  const summary = await fs.readFile(summaryFile, 'utf8');
  expect(summary).toContain('| `legacy` | 4 | 4 | 0 | 0 | pushed |');
  expect(summary).toContain('<details><summary>Changes to manifest/legacy</summary>');
  expect(summary).not.toContain(KEY);
});
