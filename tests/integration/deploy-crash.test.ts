/**
 * Deploys as separate processes through the CLI bundle: one killed with SIGKILL in the middle of
 * installing, and two started at once on one target.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { readMarker } from '../../src/deploy/layout.js';
import { buildSeedChannel, serveChannel, type BuiltChannel, type ChannelServer } from '../fixtures/channel/index.js';
import { GitFixture } from '../fixtures/git-repo.js';
import { buildBundles, envEntries, py3Packages, setLabel, tagManifest } from './deploy-support.js';

const ROOT = path.resolve('.');
let CLI: string;

beforeAll(async () => {
  ({ cli: CLI } = await buildBundles(ROOT, ['cli']));
}, 120_000);

let fx: GitFixture;
let channel: BuiltChannel;
let server: ChannelServer;
let chanUrl: string;

beforeEach(async () => {
  fx = await GitFixture.create();
  channel = await buildSeedChannel(path.join(fx.root, 'channels', 'seed'), { newerPython: true });
  server = await serveChannel(path.join(fx.root, 'channels'), { stallMs: 120_000 });
  chanUrl = `${server.url}/seed`;
});
afterEach(async () => {
  await server.close();
  await fx.cleanup();
});

function startDeploy(target: string): { child: ChildProcess; done: Promise<{ code: number | null; signal: NodeJS.Signals | null; out: string }> } {
  const child = spawn(process.execPath, [CLI, 'deploy', fx.origin, target], {
    env: { ...process.env, RUNNER_TEMP: '', GITENV_DEBUG: '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout?.on('data', (d) => (out += d));
  child.stderr?.on('data', (d) => (out += d));
  const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null; out: string }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal, out })));
  return { child, done };
}

async function cliDeploy(target: string): Promise<string> {
  const { code, out } = await startDeploy(target).done;
  if (code !== 0) throw new Error(`gitenv deploy exited ${code}:\n${out}`);
  return out;
}

/** Every label of every environment points at a prefix with its marker; no prefix lacks one. */
async function expectConsistent(target: string): Promise<void> {
  for (const env of (await fs.readdir(target)).filter((n) => !n.startsWith('.'))) {
    for (const name of await envEntries(target, env)) {
      const p = path.join(target, env, name);
      const st = await fs.lstat(p);
      if (st.isSymbolicLink()) {
        expect(await readMarker(path.join(target, env, await fs.readlink(p)))).toBeDefined();
      } else if (!name.startsWith('.')) {
        expect(await readMarker(p)).toBeDefined();
      }
    }
  }
}

/** What a deploy leaves: per environment, its entries and where each link points, with marker tags. */
async function state(target: string): Promise<Record<string, string[]>> {
  const out: Record<string, string[]> = {};
  for (const env of (await fs.readdir(target)).filter((n) => !n.startsWith('.')).sort()) {
    out[env] = [];
    for (const name of await envEntries(target, env)) {
      const p = path.join(target, env, name);
      const st = await fs.lstat(p);
      out[env].push(st.isSymbolicLink() ? `${name} -> ${await fs.readlink(p)}` : `${name} ${(await readMarker(p))?.tag}`);
    }
  }
  return out;
}

test('a deploy killed with SIGKILL while installing leaves every label intact; the next run completes', async () => {
  const target = path.join(fx.root, 'target');
  const first = await tagManifest(fx, 'default', 'env-default-2026_01_01', chanUrl, py3Packages(channel), { date: '2026-01-01T10:00:00Z' });
  await cliDeploy(target);
  const second = await tagManifest(fx, 'default', 'env-default-2026_01_02', chanUrl, py3Packages(channel, '3.11.5'), { date: '2026-01-02T10:00:00Z' });
  await setLabel(fx, 'default', 'current', first);

  server.setFault({ match: 'python-3.11.5', fault: { type: 'stall', afterBytes: 100 } });
  const { child, done } = startDeploy(target);
  await waitFor(() => server.requests.some((r) => r.path.includes('python-3.11.5')));
  expect(await fs.readdir(path.join(target, 'default'))).toEqual(expect.arrayContaining([expect.stringMatching(/^\.staging-2026_01_02-/)]));
  child.kill('SIGKILL');
  expect((await done).signal).toBe('SIGKILL');

  await expectConsistent(target);
  expect(await fs.readlink(path.join(target, 'default', 'latest'))).toBe('2026_01_01');
  await expect(fs.lstat(path.join(target, 'default', '2026_01_02'))).rejects.toThrow();

  server.setFault(null);
  const out = await cliDeploy(target);
  expect(out).toContain(`Linking default/latest to ${second}`);
  expect(out).toMatch(/Removed .*\.staging-2026_01_02-/);
  await expectConsistent(target);
  expect(await state(target)).toEqual({
    default: ['2026_01_01 env-default-2026_01_01', '2026_01_02 env-default-2026_01_02', 'current -> 2026_01_01', 'latest -> 2026_01_02'],
  });
  expect((await fs.readdir(path.join(target, 'default'))).filter((n) => n.startsWith('.'))).toEqual([]);
});

test('two deploys started at once on one target both finish, and leave what one deploy leaves', async () => {
  for (const env of ['alpha', 'beta']) {
    await tagManifest(fx, env, `env-${env}-2026_01_01`, chanUrl, py3Packages(channel), { date: '2026-01-01T10:00:00Z' });
    await tagManifest(fx, env, `env-${env}-2026_01_02`, chanUrl, py3Packages(channel, '3.11.5'), { date: '2026-01-02T10:00:00Z' });
    await setLabel(fx, env, 'current', `env-${env}-2026_01_01`);
  }
  const shared = path.join(fx.root, 'shared');
  const [a, b] = await Promise.all([startDeploy(shared).done, startDeploy(shared).done]);
  expect([a.code, b.code, a.out + b.out]).toEqual([0, 0, expect.any(String)]);

  const single = path.join(fx.root, 'single');
  await cliDeploy(single);
  expect(await state(shared)).toEqual(await state(single));
  await expectConsistent(shared);
  const installs = (a.out + b.out).match(/^Installing /gm) ?? [];
  expect(installs).toHaveLength(4);
});

async function waitFor(cond: () => boolean, timeoutMs = 60_000): Promise<void> {
  const start = Date.now();
  while (!cond()) {
    if (Date.now() - start > timeoutMs) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 20));
  }
}
