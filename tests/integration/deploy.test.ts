/**
 * The deploy phase against a real repository (bare origin), real archives of the seed channel served
 * over loopback HTTP, and the builtin installer.
 */
import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { readMarker } from '../../src/deploy/layout.js';
import { deploy } from '../../src/phases/deploy.js';
import type { DeploySettings } from '../../src/phases/settings.js';
import { MemoryLogger } from '../../src/util/logger.js';
import { buildChannel, buildSeedChannel, serveChannel, type BuiltChannel, type ChannelServer } from '../fixtures/channel/index.js';
import { GitFixture } from '../fixtures/git-repo.js';
import { envEntries, py3Packages, setLabel, snapshotTree, tagManifest } from './deploy-support.js';

const run = promisify(execFile);

let fx: GitFixture;
let channel: BuiltChannel;
let server: ChannelServer;
let target: string;
let chanUrl: string;

beforeEach(async () => {
  fx = await GitFixture.create();
  channel = await buildSeedChannel(path.join(fx.root, 'channels', 'seed'));
  server = await serveChannel(path.join(fx.root, 'channels'));
  chanUrl = `${server.url}/seed`;
  target = path.join(fx.root, 'deployed envs');
});
afterEach(async () => {
  await server.close();
  await fx.cleanup();
});

function settings(over: Partial<DeploySettings> = {}): DeploySettings {
  return {
    repository: fx.origin,
    envs: [],
    dryRun: false,
    target,
    envLabels: ['*'],
    engine: 'builtin',
    prune: false,
    keep: 2,
    workDir: path.join(fx.root, 'work'),
    ...over,
  };
}

async function runDeploy(over: Partial<DeploySettings> = {}) {
  const logger = new MemoryLogger();
  const result = await deploy(settings(over), { logger });
  return { result, logger };
}

const link = (env: string, label: string) => fs.readlink(path.join(target, env, label));

test('labelled tags and latest deploy; labels follow; the entry point runs; a second deploy needs no channel and touches nothing', async () => {
  const first = await tagManifest(fx, 'default', 'env-default-2026_01_01', chanUrl, py3Packages(channel), { date: '2026-01-01T10:00:00Z' });
  const { result, logger } = await runDeploy();
  expect(result.failed).toEqual([]);
  expect(result.deployed).toEqual([{ env: 'default', tag: first, prefix: path.join(target, 'default', '2026_01_01') }]);
  expect(await link('default', 'latest')).toBe('2026_01_01');
  expect(logger.lines('info')).toContain(`Linking default/latest to ${first}`);
  const { stdout } = await run(path.join(target, 'default', 'latest', 'bin', 'pyhello'));
  expect(stdout.trim()).toBe('hello from pyhello 1.0.0');
  const marker = await readMarker(path.join(target, 'default', '2026_01_01'));
  expect(marker).toMatchObject({ tag: first, engine: 'builtin', packages: 5 });
  expect(marker?.lockSha256).toMatch(/^[0-9a-f]{64}$/);

  // A spec update: a new tag becomes latest; a label keeps the first; pre-prod gets its own link.
  await channelWithNewerPython();
  const second = await tagManifest(fx, 'default', 'env-default-2026_01_01-1', chanUrl, py3Packages(channel, '3.11.5'), { date: '2026-01-01T12:00:00Z' });
  await setLabel(fx, 'default', 'current', first);
  await setLabel(fx, 'default', 'pre-prod', second);
  const again = await runDeploy();
  expect(again.result.failed).toEqual([]);
  expect(await link('default', 'latest')).toBe('2026_01_01-1');
  expect(await link('default', 'current')).toBe('2026_01_01');
  expect(await link('default', 'pre-prod')).toBe('2026_01_01-1');
  expect(await envEntries(target, 'default')).toEqual(['2026_01_01', '2026_01_01-1', 'current', 'latest', 'pre-prod']);
  expect(again.result.summary).toMatch(/\| default \| pre-prod \| env-default-2026_01_01-1 \| `[^`]+` \| installed \|/);
  expect(again.result.summary).toMatch(/\| default \| current \| env-default-2026_01_01 \| `[^`]+` \| up to date \|/);

  // Nothing new: no channel needed, nothing on disk changes (package cache included).
  await server.close();
  const before = await snapshotTree(target);
  const noop = await runDeploy();
  expect(noop.result.failed).toEqual([]);
  expect(noop.result.deployed.map((d) => d.tag).sort()).toEqual([first, second]);
  expect(await snapshotTree(target)).toEqual(before);
  expect(noop.logger.lines('info').filter((l) => /Linking|Installing/.test(l))).toEqual([]);
});

test('env-labels filters; prune removes only unlabelled prefixes beyond keep; dry-run changes nothing', async () => {
  const tags: string[] = [];
  for (const [i, day] of ['01', '02', '03', '04'].entries()) {
    tags.push(await tagManifest(fx, 'default', `env-default-2026_01_${day}`, chanUrl, py3Packages(channel), { date: `2026-01-${day}T10:00:00Z` }));
    await setLabel(fx, 'default', `l${i}`, tags[i]);
  }
  // Only l0 and l3 (and latest, the same tag as l3) are selected.
  const { result } = await runDeploy({ envLabels: ['default/l0', '*/l3', 'default/latest'] });
  expect(result.deployed.map((d) => d.tag)).toEqual([tags[0], tags[3]]);
  expect(await envEntries(target, 'default')).toEqual(['2026_01_01', '2026_01_04', 'l0', 'l3', 'latest']);

  await runDeploy();
  expect(await envEntries(target, 'default')).toEqual(['2026_01_01', '2026_01_02', '2026_01_03', '2026_01_04', 'l0', 'l1', 'l2', 'l3', 'latest']);

  // l1 and l2 disappear: their links go; prune with keep 0 removes their prefixes, never a labelled one.
  await setLabel(fx, 'default', 'l1', null);
  await setLabel(fx, 'default', 'l2', null);
  const before = await snapshotTree(target);
  const dry = await runDeploy({ prune: true, keep: 0, dryRun: true });
  expect(dry.logger.lines('info')).toEqual(expect.arrayContaining(['Would remove default/l1 (labels/l1.txt is gone)', expect.stringMatching(/^Would prune default\/2026_01_02/)]));
  expect(await snapshotTree(target)).toEqual(before);

  const pruned = await runDeploy({ prune: true, keep: 0 });
  expect(pruned.result.failed).toEqual([]);
  expect(await envEntries(target, 'default')).toEqual(['2026_01_01', '2026_01_04', 'l0', 'l3', 'latest']);
  expect(pruned.result.summary).toMatch(/Pruned 2 prefix\(es\), freeing [\d.]+ k?B/);
});

test("an old-tool repository (no env.lock, spaces in env.manifest) deploys from the channels' repodata", async () => {
  const tag = await tagManifest(fx, 'legacy', 'env-legacy-2016_03_01', chanUrl, py3Packages(channel), { date: '2016-03-01T10:00:00Z', oldTool: true });
  expect(await fx.show(tag, 'env.lock')).toBeUndefined();
  const { result, logger } = await runDeploy();
  expect(result.failed).toEqual([]);
  expect(logger.text()).toMatch(/made by the old tool/);
  const { stdout } = await run(path.join(target, 'legacy', 'latest', 'bin', 'pyhello'));
  expect(stdout.trim()).toBe('hello from pyhello 1.0.0');
});

test('a package that fails fails only its environment, named; its labels stay; the others deploy', async () => {
  const good = await tagManifest(fx, 'alpha', 'env-alpha-2026_01_01', chanUrl, py3Packages(channel), { date: '2026-01-01T10:00:00Z' });
  await tagManifest(fx, 'beta', 'env-beta-2026_01_01', chanUrl, py3Packages(channel), { date: '2026-01-01T10:00:00Z' });
  await runDeploy({ envs: ['beta'] });
  expect(await link('beta', 'latest')).toBe('2026_01_01');

  // beta's new tag locks numpy with a sha256 the archive does not have.
  const numpy = py3Packages(channel).find((p) => p.record.name === 'numpy')!;
  await tagManifest(fx, 'beta', 'env-beta-2026_01_02', chanUrl, py3Packages(channel), {
    date: '2026-01-02T10:00:00Z',
    patchLock: (t) => t.replace(numpy.sha256, 'f'.repeat(64)),
  });
  await setLabel(fx, 'beta', 'next', 'env-beta-2026_01_02');
  const { result } = await runDeploy();
  expect(result.failed.map((f) => f.env)).toEqual(['beta']);
  expect(result.failed[0].message).toContain('numpy');
  // beta's only selected tag (latest = next) failed: nothing of beta counts as deployed.
  expect(result.deployed).toEqual([{ env: 'alpha', tag: good, prefix: path.join(target, 'alpha', '2026_01_01') }]);
  expect(await link('alpha', 'latest')).toBe('2026_01_01');
  expect(await link('beta', 'latest')).toBe('2026_01_01');
  await expect(fs.lstat(path.join(target, 'beta', 'next'))).rejects.toThrow();
  expect(await envEntries(target, 'beta')).toEqual(['2026_01_01', 'latest']);
  expect(result.summary).toMatch(/\| beta \| latest \| env-beta-2026_01_02 \| `[^`]+` \| failed: .*numpy/);
});

test('a label naming a tag that does not exist fails its environment and names the label file', async () => {
  await tagManifest(fx, 'default', 'env-default-2026_01_01', chanUrl, py3Packages(channel), { date: '2026-01-01T10:00:00Z' });
  await setLabel(fx, 'default', 'current', 'env-default-1999_01_01');
  const { result, logger } = await runDeploy();
  expect(result.failed).toEqual([{ env: 'default', message: 'labels/current.txt names env-default-1999_01_01, which does not exist' }]);
  expect(logger.records.find((r) => r.level === 'error')?.props?.file).toBe('labels/current.txt');
  expect(await link('default', 'latest')).toBe('2026_01_01');
});

async function channelWithNewerPython(): Promise<void> {
  channel = await buildSeedChannel(channel.dir, { newerPython: true });
}

test('channel credentials stay in memory: the deploy works, and no file under the target nor any log line holds them', async () => {
  const user = 'deploy-user';
  const key = 's3cr3t-api-key-42';
  const guarded = await serveChannel(path.join(fx.root, 'channels'), { auth: { user, password: key } });
  try {
    const url = `${guarded.url}/seed`;
    await tagManifest(fx, 'default', 'env-default-2026_01_01', url, py3Packages(channel), { date: '2026-01-01T10:00:00Z' });
    const denied = await runDeploy();
    expect(denied.result.failed.map((f) => f.env)).toEqual(['default']);
    expect(denied.result.failed[0].message).toMatch(/401/);

    const { result, logger } = await runDeploy({ apiUser: user, apiKey: key });
    expect(result.failed).toEqual([]);
    expect(guarded.requests.filter((r) => r.status === 200).length).toBeGreaterThan(0);
    const basic = Buffer.from(`${user}:${key}`).toString('base64');
    const found = await filesContaining(target, [key, basic]);
    expect(found).toEqual([]);
    expect(logger.text()).not.toContain(key);
    expect(result.summary).not.toContain(key);
  } finally {
    await guarded.close();
  }
});

test('with a mirror, packages come from <mirror>/<last segment of the channel>', async () => {
  // The locked channel does not answer at all: everything must come through the mirror.
  const dead = 'http://127.0.0.1:9/seed';
  await tagManifest(fx, 'default', 'env-default-2026_01_01', dead, py3Packages(channel), { date: '2026-01-01T10:00:00Z' });
  const { result } = await runDeploy({ mirror: server.url });
  expect(result.failed).toEqual([]);
  expect(server.requests.some((r) => r.path.startsWith('/seed/linux-64/python-'))).toBe(true);
  expect(await link('default', 'latest')).toBe('2026_01_01');
});

test('what the installer wants read (clobbered paths, post-link messages) is in the log and the job summary', async () => {
  const notes = await buildChannel(path.join(fx.root, 'channels', 'notes'), [
    { name: 'first', version: '1', files: { 'share/tool/config': 'a file in first\n' } },
    { name: 'second', version: '1', depends: ['first'], files: { 'share/tool/config/d': 'a directory in second\n' } },
    { name: 'third', version: '1', depends: ['second'], files: { 'share/x': 'x\n' }, postLink: 'echo "Run tool-setup once per user." >> "$PREFIX/.messages.txt"\n' },
  ]);
  await tagManifest(fx, 'notes', 'env-notes-2026_01_03', `${server.url}/notes`, notes.packages, { date: '2026-01-03T10:00:00Z' });
  const { result, logger } = await runDeploy();
  expect(result.failed).toEqual([]);
  const clobber = 'share/tool/config is a file in first-1-0 and a directory in second-1-0; second-1-0 (later in dependency order) wins';
  expect(logger.lines('warning')).toContain(clobber);
  expect(logger.lines('info').join('\n')).toContain('> Run tool-setup once per user.');
  expect(result.summary).toContain(`Notes from installing notes/2026_01_03:\n\n\`\`\`text\n${clobber}\npost-link messages:\nRun tool-setup once per user.\n\`\`\`\n`);
  const prefix = path.join(target, 'notes', '2026_01_03');
  expect(await fs.readFile(path.join(prefix, 'share', 'tool', 'config', 'd'), 'utf8')).toBe('a directory in second\n');
  await expect(fs.access(path.join(prefix, '.messages.txt'))).rejects.toThrow();
});

/** Files under `root` whose bytes contain any of `needles`. */
async function filesContaining(root: string, needles: string[]): Promise<string[]> {
  const hits: string[] = [];
  const walk = async (dir: string): Promise<void> => {
    for (const entry of await fs.readdir(dir, { withFileTypes: true })) {
      const p = path.join(dir, entry.name);
      if (entry.isDirectory()) await walk(p);
      else if (entry.isFile()) {
        const bytes = await fs.readFile(p);
        if (needles.some((n) => bytes.includes(n))) hits.push(p);
      }
    }
  };
  await walk(root);
  return hits;
}

/** Every entry under `root` (not following links) as a world-readable deploy wants it: `[path, mode]` of those that are not. */
async function notReadable(root: string): Promise<[string, string][]> {
  const wrong: [string, string][] = [];
  const walk = async (dir: string): Promise<void> => {
    for (const e of await fs.readdir(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      const st = await fs.lstat(p);
      if (st.isSymbolicLink()) continue;
      const m = st.mode & 0o7777;
      const exec = st.isDirectory() || (m & 0o111) !== 0;
      if ((m & 0o444) !== 0o444 || (exec && (m & 0o111) !== 0o111) || (m & 0o022) !== 0) wrong.push([path.relative(root, p), m.toString(8)]);
      if (st.isDirectory()) await walk(p);
    }
  };
  await walk(root);
  return wrong;
}

test('modes: a prefix linked from readable cache entries needs no walk; private modes in a package, or an entry of an earlier gitenv, get the walk', async () => {
  const noWalk = (logger: MemoryLogger) => logger.lines('debug').some((l) => /made readable by anyone by the installer; no walk/.test(l));
  await tagManifest(fx, 'default', 'env-default-2026_01_01', chanUrl, py3Packages(channel), { date: '2026-01-01T10:00:00Z' });
  const first = await runDeploy();
  expect(first.result.failed).toEqual([]);
  expect(noWalk(first.logger)).toBe(true);
  expect(await notReadable(path.join(target, 'default', '2026_01_01'))).toEqual([]);

  // A package shipping a private file and an owner-only program: its entry is not readable, the walk runs.
  const privy = await buildChannel(path.join(fx.root, 'channels', 'privy'), [
    { name: 'privy', version: '1.0', files: { 'share/privy/secret.txt': { content: 'x\n', mode: 0o600 }, 'bin/privy': { content: '#!/bin/sh\necho privy\n', mode: 0o700 } } },
  ]);
  const privyUrl = `${server.url}/privy`;
  await tagManifest(fx, 'private', 'env-private-2026_01_01', privyUrl, privy.packages, { date: '2026-01-01T10:00:00Z' });
  const second = await runDeploy({ envs: ['private'] });
  expect(second.result.failed).toEqual([]);
  expect(noWalk(second.logger)).toBe(false);
  const prefix = path.join(target, 'private', '2026_01_01');
  expect(await notReadable(prefix)).toEqual([]);
  expect((await fs.stat(path.join(prefix, 'share', 'privy', 'secret.txt'))).mode & 0o7777).toBe(0o644);
  expect((await fs.stat(path.join(prefix, 'bin', 'privy'))).mode & 0o7777).toBe(0o755);

  // An entry whose marker says nothing of its modes (an earlier gitenv's): the walk runs.
  const cache = path.join(target, '.pkg_cache');
  const markers = (await fs.readdir(cache, { withFileTypes: true })).filter((e) => e.isDirectory() && e.name.startsWith('python-')).map((e) => e.name);
  expect(markers.length).toBeGreaterThan(0);
  for (const dist of markers) {
    const file = path.join(cache, dist, '.gitenv-complete.json');
    const marker = JSON.parse(await fs.readFile(file, 'utf8')) as Record<string, unknown>;
    expect(marker.readable).toBe(true);
    delete marker.readable;
    await fs.writeFile(file, JSON.stringify(marker));
  }
  await tagManifest(fx, 'default', 'env-default-2026_01_02', chanUrl, py3Packages(channel), { date: '2026-01-02T10:00:00Z' });
  const third = await runDeploy({ envs: ['default'] });
  expect(third.result.failed).toEqual([]);
  expect(noWalk(third.logger)).toBe(false);
  expect(await notReadable(path.join(target, 'default', '2026_01_02'))).toEqual([]);
});

test('modes: once a deploy with a group (or not world readable) used the package cache, every deploy from it walks its prefixes', async () => {
  const noWalk = (logger: MemoryLogger) => logger.lines('debug').some((l) => /made readable by anyone by the installer; no walk/.test(l));
  const gid = String(process.getgid?.() ?? 0);
  // A group deploy, not world readable: its walk takes the others' read bits from the cache's files too.
  await tagManifest(fx, 'grouped', 'env-grouped-2026_01_01', chanUrl, py3Packages(channel), { date: '2026-01-01T10:00:00Z' });
  const grouped = await runDeploy({ envs: ['grouped'], group: gid, worldReadable: false });
  expect(grouped.result.failed).toEqual([]);
  expect(noWalk(grouped.logger)).toBe(false);
  await expect(fs.readFile(path.join(target, '.pkg_cache', '.gitenv-restricted-access'), 'utf8')).resolves.toMatch(/group/);
  // A world-readable deploy from the same cache: the entries' flags are not taken on trust, the walk
  // runs, and the prefix is readable by anyone again.
  await tagManifest(fx, 'default', 'env-default-2026_01_01', chanUrl, py3Packages(channel), { date: '2026-01-01T10:00:00Z' });
  const world = await runDeploy({ envs: ['default'] });
  expect(world.result.failed).toEqual([]);
  expect(noWalk(world.logger)).toBe(false);
  expect(await notReadable(path.join(target, 'default', '2026_01_01'))).toEqual([]);
});
