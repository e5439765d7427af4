/**
 * The committed bundles extract in threads: the CLI bundle and the deploy action's bundle each start
 * extraction threads that load the small `extract-worker` bundle beside them, and every `.conda` of
 * a deploy is extracted while it downloads, none falling back to the main thread. (A thread that
 * cannot start makes every package fall back: the deploy still succeeds, twice as slowly, so only the
 * debug log tells.)
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { buildChannel, seedPackages, serveChannel, type BuiltChannel, type ChannelServer } from '../fixtures/channel/index.js';
import { ensureBundles } from '../fixtures/bundles.js';
import { runAction, runNode } from '../fixtures/git-frontends.js';
import { GitFixture } from '../fixtures/git-repo.js';
import { py3Packages, tagManifest } from './deploy-support.js';

let fx: GitFixture;
let channel: BuiltChannel;
let server: ChannelServer;
let bundles: Record<string, string>;

beforeAll(async () => {
  bundles = await ensureBundles(['cli', 'deploy']);
  fx = await GitFixture.create();
  channel = await buildChannel(path.join(fx.root, 'channels', 'seed'), seedPackages(), { subdirs: ['linux-64'] });
  server = await serveChannel(path.join(fx.root, 'channels'));
  await tagManifest(fx, 'default', 'env-default-2026_01_01', `${server.url}/seed`, py3Packages(channel), { date: '2026-01-01T10:00:00Z' });
}, 300_000);
afterAll(async () => {
  await server.close();
  await fx.cleanup();
});

/** The `.conda` packages of the environment: what streams. */
const condas = () => py3Packages(channel).filter((p) => p.fn.endsWith('.conda'));

function expectThreaded(log: string): void {
  expect(condas().length).toBeGreaterThan(0);
  for (const p of condas()) expect(log).toContain(`${p.dist}: extracted while downloading`);
  expect(log).not.toMatch(/not extracted while downloading/);
}

test('the CLI bundle: every .conda extracted while downloading, in threads loaded from dist/extract-worker', async () => {
  expect(path.basename(path.dirname(path.dirname(bundles.cli)))).not.toBe('extract-worker');
  await fs.access(path.join(path.dirname(bundles.cli), '..', 'extract-worker', 'index.js'));
  const target = path.join(fx.root, 'cli-target');
  // Not spawnSync: the channel server answers from this process.
  const r = await runNode([bundles.cli, 'deploy', fx.origin, target], { ...process.env, GITENV_DEBUG: '1', GITENV_TOKEN: '' });
  expect(r.code).toBe(0);
  expectThreaded(r.stderr);
  expect((await fs.readdir(path.join(target, 'default'))).filter((n) => !n.startsWith('.'))).toEqual(expect.arrayContaining(['2026_01_01', 'latest']));
}, 120_000);

test('the deploy action bundle: the same', async () => {
  const ran = await runAction(bundles.deploy, { repository: fx.origin, target: path.join(fx.root, 'action-target'), 'log-level': 'debug' }, path.join(fx.root, 'action'));
  expect(ran.code).toBe(0);
  expectThreaded(ran.stdout + ran.stderr);
}, 120_000);
