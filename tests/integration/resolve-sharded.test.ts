/**
 * Sharded repodata (CEP-16) served by the fixture channel server: a resolve reads the sharded
 * index and only the shards of the names it reaches, gives the same manifest and lock as the
 * monolithic repodata of the same channel, and a second run with the channel unchanged asks only
 * for the two indexes (both 304 Not Modified): shards are named by their hash and kept for good.
 */
import * as path from 'node:path';
import { buildSeedChannel, serveChannel, shardFiles, writeShards, type BuiltChannel, type ChannelServer } from '../fixtures/channel/index.js';
import { GitFixture } from '../fixtures/git-repo.js';
import { resolve } from '../../src/phases/resolve.js';
import { MemoryLogger } from '../../src/util/logger.js';
import { resolveSettings, specText } from './resolve-support.js';
import { runs } from '../fixtures/tools.js';
import { FetchWrapper } from '../../src/net/fetch-wrapper.js';
import { RattlerSolver } from '../../src/solver/rattler-solver.js';
import { virtualPackages } from '../../src/conda/virtual-packages.js';

const present = runs('python3', ['-c', 'import rattler.index']);
if (!present && process.env.CI === 'true') throw new Error('py-rattler is missing (CI=true): run .ci/setup-extra');
if (!present) process.stderr.write('\n!!! py-rattler is not installed: resolve-sharded is SKIPPED (bash .ci/setup-extra installs it).\n');
const maybe = present ? describe : describe.skip;

maybe('resolve over sharded repodata', () => {
  let fx: GitFixture;
  let channel: BuiltChannel;
  let server: ChannelServer;

  beforeAll(async () => {
    fx = await GitFixture.create();
    channel = await buildSeedChannel(path.join(fx.root, 'srv', 'seed'));
    server = await serveChannel(path.join(fx.root, 'srv'));
  });
  afterAll(async () => {
    await server.close();
    await fx.cleanup();
  });

  test('only the reached shards; the same manifest as monolithic repodata; a second run asks for the indexes only', async () => {
    const url = `${server.url}/seed`;
    await fx.commit('default', { 'env.spec': specText([url], ['python 3.*']) });
    // Monolithic first (py-rattler's index, so that both forms come from the same indexer).
    await writeShards(channel.dir);
    const shardsOf = await shardFiles(channel.dir, 'linux-64');
    const { rmSync, renameSync } = await import('node:fs');
    renameSync(path.join(channel.dir, 'linux-64', 'repodata_shards.msgpack.zst'), path.join(fx.root, 'l.idx'));
    renameSync(path.join(channel.dir, 'noarch', 'repodata_shards.msgpack.zst'), path.join(fx.root, 'n.idx'));
    const mono = await resolve(resolveSettings(fx, { cacheDir: path.join(fx.root, 'mono-cache') }), { logger: new MemoryLogger() });
    expect(mono).toMatchObject({ changed: ['default'], failed: [] });
    const manifest = await fx.show('manifest/default', 'env.manifest');
    const lock = await fx.show('manifest/default', 'env.lock');
    expect(lock).toMatch(/python-3\.11\.4/);

    renameSync(path.join(fx.root, 'l.idx'), path.join(channel.dir, 'linux-64', 'repodata_shards.msgpack.zst'));
    renameSync(path.join(fx.root, 'n.idx'), path.join(channel.dir, 'noarch', 'repodata_shards.msgpack.zst'));
    // The monolithic files stay: the sharded index is asked for first and taken.
    const cacheDir = path.join(fx.root, 'shard-cache');
    server.clearRequests();
    const first = await resolve(resolveSettings(fx, { cacheDir }), { logger: new MemoryLogger() });
    expect(first).toMatchObject({ changed: [], failed: [] });
    expect(await fx.show('manifest/default', 'env.manifest')).toBe(manifest);
    expect(await fx.show('manifest/default', 'env.lock')).toBe(lock);

    const asked = server.requests.map((r) => `${r.path} ${r.status}`).sort();
    const reached = ['openssl', 'python', 'zlib'].map((n) => `/seed/linux-64/${shardsOf.get(n)} 200`);
    expect(asked).toEqual(['/seed/linux-64/repodata_shards.msgpack.zst 200', ...reached, '/seed/noarch/repodata_shards.msgpack.zst 200'].sort());
    // numpy and pyhello have shards too; they were not reached.
    expect(shardsOf.has('numpy')).toBe(true);
    expect(asked.some((a) => a.includes(shardsOf.get('numpy') as string))).toBe(false);
    rmSync(path.join(fx.root, 'mono-cache'), { recursive: true, force: true });

    server.clearRequests();
    const second = await resolve(resolveSettings(fx, { cacheDir }), { logger: new MemoryLogger() });
    expect(second).toMatchObject({ changed: [], failed: [] });
    expect(server.requests.map((r) => `${r.path} ${r.status}`).sort()).toEqual(['/seed/linux-64/repodata_shards.msgpack.zst 304', '/seed/noarch/repodata_shards.msgpack.zst 304']);
    expect(server.requests.reduce((n, r) => n + r.bytes, 0)).toBe(0);
  });

  test('the records of the shards are served pruned and corrected, as parsed repodata is: openssl 1.1.1.* finds 1.1.1w', async () => {
    await writeShards(channel.dir);
    const logger = new MemoryLogger();
    const solver = new RattlerSolver(new FetchWrapper({ cacheDir: path.join(fx.root, 'rewrite-cache'), logger }), { jobs: 1 });
    try {
      server.clearRequests();
      const records = await solver.solve({ specs: ['openssl 1.1.1.*'], channels: [`${server.url}/seed`], platform: 'linux-64', virtualPackages: virtualPackages('linux-64', {}), env: 'ssl', logger });
      const built = channel.packages.find((p) => p.record.name === 'openssl');
      expect(records.map((r) => r.name).sort()).toEqual(['openssl', 'zlib']);
      expect(records.find((r) => r.name === 'openssl')).toMatchObject({ version: '1.1.1w', fn: built?.fn, sha256: built?.sha256, md5: built?.md5, url: `${server.url}/seed/linux-64/${built?.fn}` });
      // Pruned here (the solver's own reading of shards would not be), from the shards fetched here only.
      expect(logger.text()).toMatch(/ssl: the solver gets \d+ of the \d+ records of 2 reachable package names/);
      const shardsOf = await shardFiles(channel.dir, 'linux-64');
      expect(server.requests.map((r) => `${r.path} ${r.status}`).sort()).toEqual(
        [
          '/seed/linux-64/repodata_shards.msgpack.zst 200',
          `/seed/linux-64/${shardsOf.get('openssl')} 200`,
          `/seed/linux-64/${shardsOf.get('zlib')} 200`,
          '/seed/noarch/repodata_shards.msgpack.zst 200',
        ].sort(),
      );
    } finally {
      await solver.close();
    }
  });

  test('after a solve over shards, a WASM memory growing in small steps (as the solver thread does) sets off no run of full collections', async () => {
    const { PerformanceObserver, constants } = await import('node:perf_hooks');
    await writeShards(channel.dir);
    const logger = new MemoryLogger();
    const solver = new RattlerSolver(new FetchWrapper({ cacheDir: path.join(fx.root, 'gc-cache'), logger }), { jobs: 1 });
    try {
      await solver.solve({ specs: ['zlib'], channels: [`${server.url}/seed`], platform: 'linux-64', virtualPackages: virtualPackages('linux-64', {}), env: 'gc', logger });
    } finally {
      await solver.close();
    }
    expect(logger.text()).toMatch(/gc: \d+ shards read in \d+ ms/);
    // By V8's own external-memory limit, each step of growth (a new ArrayBuffer of the whole
    // memory) starts a full collection every few steps: dozens of them for these 1,000 steps.
    let major = 0;
    const observer = new PerformanceObserver((list) => {
      for (const e of list.getEntries()) if ((e as unknown as { detail?: { kind?: number } }).detail?.kind === constants.NODE_PERFORMANCE_GC_MAJOR) major++;
    });
    observer.observe({ entryTypes: ['gc'] });
    type Memory = { grow(pages: number): number; buffer: ArrayBuffer };
    const wasm = (globalThis as unknown as { WebAssembly: { Memory: new (d: { initial: number; maximum: number }) => Memory } }).WebAssembly;
    const memory = new wasm.Memory({ initial: 16, maximum: 16400 });
    for (let i = 0; i < 1000; i++) {
      memory.grow(16);
      new Uint8Array(memory.buffer)[0] = 1;
    }
    await new Promise((r) => setTimeout(r, 50));
    observer.disconnect();
    expect(major).toBeLessThanOrEqual(3);
  });

  test('a shard whose bytes do not match its name fails the environment, naming the channel; nothing is cached', async () => {
    const shardsOf = await shardFiles(channel.dir, 'linux-64');
    const python = `/seed/linux-64/${shardsOf.get('python')}`;
    server.setFault({ match: python, fault: { type: 'corrupt' } });
    const cacheDir = path.join(fx.root, 'corrupt-cache');
    try {
      const result = await resolve(resolveSettings(fx, { cacheDir, dryRun: true }), { logger: new MemoryLogger() });
      expect(result.failed.map((f) => f.env)).toEqual(['default']);
      expect(result.failed[0].message).toContain(`environment "default"`);
      expect(result.failed[0].message).toContain(`channel ${server.url}/seed`);
      expect(result.failed[0].message).toContain('the shard does not match its sha256 name');
    } finally {
      server.setFault(null);
    }
    server.clearRequests();
    const again = await resolve(resolveSettings(fx, { cacheDir, dryRun: true }), { logger: new MemoryLogger() });
    expect(again.failed).toEqual([]);
    expect(server.requests.some((r) => r.path === python && r.status === 200)).toBe(true);
  });
});
