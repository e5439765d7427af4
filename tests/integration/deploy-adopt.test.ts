/**
 * Migration from conda-gitenv: a prefix the old tool deployed (no gitenv marker) whose conda-meta
 * holds exactly the tag's packages is adopted in place — no reinstall, no moment without it — while
 * one that does not match is rebuilt.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { readMarker } from '../../src/deploy/layout.js';
import { deploy } from '../../src/phases/deploy.js';
import type { DeploySettings } from '../../src/phases/settings.js';
import { MemoryLogger } from '../../src/util/logger.js';
import { buildSeedChannel, serveChannel, type BuiltChannel, type ChannelServer } from '../fixtures/channel/index.js';
import { GitFixture } from '../fixtures/git-repo.js';
import { py3Packages, tagManifest } from './deploy-support.js';

let fx: GitFixture;
let channel: BuiltChannel;
let server: ChannelServer;
let target: string;

beforeEach(async () => {
  fx = await GitFixture.create();
  channel = await buildSeedChannel(path.join(fx.root, 'channels', 'seed'));
  server = await serveChannel(path.join(fx.root, 'channels'));
  target = path.join(fx.root, 'envs');
});
afterEach(async () => {
  await server.close();
  await fx.cleanup();
});

const settings = (): DeploySettings => ({
  repository: fx.origin,
  envs: [],
  dryRun: false,
  target,
  envLabels: ['*'],
  engine: 'builtin',
  prune: false,
  keep: 2,
  workDir: path.join(fx.root, 'work'),
});

/** What conda-gitenv left: a prefix with conda-meta records, and a `latest` symlink to it. */
async function oldToolPrefix(env: string, name: string, dists: string[]): Promise<string> {
  const prefix = path.join(target, env, name);
  await fs.mkdir(path.join(prefix, 'conda-meta'), { recursive: true });
  await fs.mkdir(path.join(prefix, 'bin'), { recursive: true });
  await fs.writeFile(path.join(prefix, 'bin', 'site-file'), 'deployed by conda-gitenv\n');
  for (const d of dists) await fs.writeFile(path.join(prefix, 'conda-meta', `${d}.json`), JSON.stringify({ fn: `${d}.tar.bz2` }));
  await fs.writeFile(path.join(prefix, 'conda-meta', 'history'), '==> 2016-03-01 <==\n');
  await fs.symlink(name, path.join(target, env, 'latest'));
  return prefix;
}

test('an old-tool prefix that matches its tag is adopted in place: same inode, no download, marker written', async () => {
  const pkgs = py3Packages(channel);
  const tag = await tagManifest(fx, 'legacy', 'env-legacy-2016_03_01', `${server.url}/seed`, pkgs, { date: '2016-03-01T10:00:00Z', oldTool: true });
  const prefix = await oldToolPrefix(
    'legacy',
    '2016_03_01',
    pkgs.map((p) => p.dist),
  );
  const inode = (await fs.stat(prefix)).ino;
  server.clearRequests();

  const logger = new MemoryLogger();
  const result = await deploy(settings(), { logger });
  expect(result.failed).toEqual([]);
  expect((await fs.stat(prefix)).ino).toBe(inode);
  expect(await fs.readFile(path.join(prefix, 'bin', 'site-file'), 'utf8')).toBe('deployed by conda-gitenv\n');
  expect(await readMarker(prefix)).toMatchObject({ tag, packages: pkgs.length });
  expect(server.requests.filter((r) => r.path.endsWith('.conda') || r.path.endsWith('.tar.bz2'))).toEqual([]);
  expect(logger.lines('info')).toContainEqual(expect.stringMatching(/^Adopted legacy\/2016_03_01: .*\(deployed by conda-gitenv\)$/));
  expect(await fs.readlink(path.join(target, 'legacy', 'latest'))).toBe('2016_03_01');
});

test('an old-tool prefix that does not match its tag is rebuilt and swapped in', async () => {
  const pkgs = py3Packages(channel);
  await tagManifest(fx, 'legacy', 'env-legacy-2016_03_01', `${server.url}/seed`, pkgs, { date: '2016-03-01T10:00:00Z', oldTool: true });
  const prefix = await oldToolPrefix(
    'legacy',
    '2016_03_01',
    pkgs.slice(1).map((p) => p.dist),
  );

  const logger = new MemoryLogger();
  const result = await deploy(settings(), { logger });
  expect(result.failed).toEqual([]);
  expect(logger.text()).not.toMatch(/Adopted/);
  await expect(fs.access(path.join(prefix, 'bin', 'site-file'))).rejects.toThrow();
  await expect(fs.access(path.join(prefix, 'bin', 'pyhello'))).resolves.toBeUndefined();
  expect(await readMarker(prefix)).toMatchObject({ packages: pkgs.length });
});
