/**
 * The conda-forge-shaped channel of bench/cf-scale.ts, at a small size: its monolithic repodata, its
 * `.zst` and its CEP-16 shards hold the same records, it is the same for the same seed, and gitenv's
 * builtin solver gives the same answer over the shards as over the monolithic repodata, both served
 * on loopback HTTP.
 */
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { decompress } from 'fzstd';
import { serveChannel, syntheticSpecs, writeCfScaleChannel, type ChannelServer } from '../fixtures/channel/index.js';
import { decodeMsgpack } from '../../src/solver/msgpack.js';
import { FetchWrapper } from '../../src/net/fetch-wrapper.js';
import { RattlerSolver } from '../../src/solver/rattler-solver.js';
import { virtualPackages } from '../../src/conda/virtual-packages.js';
import { MemoryLogger } from '../../src/util/logger.js';

type Record_ = { name: string; md5: string; sha256: string; noarch?: string };
type Repodata = { info: { subdir: string }; packages: Record<string, Record_>; 'packages.conda': Record<string, Record_> };

let tmp: string;
let server: ChannelServer;
const OPTIONS = { seed: 7, names: 400, records: 8_000 };

beforeAll(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'gitenv-cf-scale-'));
  server = await serveChannel(tmp);
});
afterAll(async () => {
  await server.close();
  await fs.rm(tmp, { recursive: true, force: true });
});

test('monolithic, .zst and shards hold the same records; the same seed writes the same bytes', async () => {
  const channel = await writeCfScaleChannel(path.join(tmp, 'cf'), OPTIONS);
  expect(channel.names.length).toBeGreaterThanOrEqual(400);
  expect(channel.count).toBeGreaterThanOrEqual(8_000);
  let conda = 0;
  let bz2 = 0;
  for (const subdir of ['linux-64', 'noarch'] as const) {
    const dir = path.join(channel.dir, subdir);
    const json = await fs.readFile(path.join(dir, 'repodata.json'));
    expect(Buffer.from(decompress(await fs.readFile(path.join(dir, 'repodata.json.zst')))).equals(json)).toBe(true);
    const repodata = JSON.parse(json.toString('utf8')) as Repodata;
    expect(repodata.info.subdir).toBe(subdir);
    expect(Object.keys(repodata.packages).length + Object.keys(repodata['packages.conda']).length).toBe(channel.perSubdir[subdir]);
    conda += Object.keys(repodata['packages.conda']).length;
    bz2 += Object.keys(repodata.packages).length;
    if (subdir === 'noarch') expect(Object.values(repodata['packages.conda']).every((r) => r.noarch === 'python')).toBe(true);

    const index = decodeMsgpack(decompress(await fs.readFile(path.join(dir, 'repodata_shards.msgpack.zst')))) as { info: { shards_base_url: string }; shards: Record<string, Uint8Array> };
    expect(index.info.shards_base_url).toBe('./shards/');
    const names = new Set([...Object.values(repodata.packages), ...Object.values(repodata['packages.conda'])].map((r) => r.name));
    expect(new Set(Object.keys(index.shards))).toEqual(names);
    const fromShards: Repodata = { info: repodata.info, packages: {}, 'packages.conda': {} };
    for (const [name, hash] of Object.entries(index.shards)) {
      const bytes = await fs.readFile(path.join(dir, 'shards', `${Buffer.from(hash).toString('hex')}.msgpack.zst`));
      expect(createHash('sha256').update(bytes).digest('hex')).toBe(Buffer.from(hash).toString('hex'));
      const shard = decodeMsgpack(decompress(bytes)) as unknown as Pick<Repodata, 'packages' | 'packages.conda'>;
      for (const table of ['packages', 'packages.conda'] as const) {
        for (const [fn, r] of Object.entries(shard[table])) {
          expect(r.name).toBe(name);
          fromShards[table][fn] = { ...r, md5: Buffer.from(r.md5 as unknown as Uint8Array).toString('hex'), sha256: Buffer.from(r.sha256 as unknown as Uint8Array).toString('hex') };
        }
      }
    }
    expect(fromShards.packages).toEqual(repodata.packages);
    expect(fromShards['packages.conda']).toEqual(repodata['packages.conda']);
  }
  // Both file formats, mostly .conda.
  expect(bz2).toBeGreaterThan(channel.count * 0.1);
  expect(conda).toBeGreaterThan(bz2 * 2);

  const again = await writeCfScaleChannel(path.join(tmp, 'again'), OPTIONS);
  for (const f of ['linux-64/repodata.json', 'noarch/repodata.json', 'linux-64/repodata_shards.msgpack.zst']) {
    expect((await fs.readFile(path.join(again.dir, f))).equals(await fs.readFile(path.join(channel.dir, f)))).toBe(true);
  }
  // A second call on a complete channel reuses it.
  const stat = await fs.stat(path.join(channel.dir, 'linux-64', 'repodata.json'));
  await writeCfScaleChannel(path.join(tmp, 'cf'), OPTIONS);
  expect((await fs.stat(path.join(channel.dir, 'linux-64', 'repodata.json'))).mtimeMs).toBe(stat.mtimeMs);
});

test('the builtin solver gives the same environment over the shards as over the monolithic repodata', async () => {
  const channel = await writeCfScaleChannel(path.join(tmp, 'cf'), OPTIONS);
  // The same repodata without shards.
  for (const subdir of ['linux-64', 'noarch']) {
    await fs.mkdir(path.join(tmp, 'cf-mono', subdir), { recursive: true });
    await fs.copyFile(path.join(channel.dir, subdir, 'repodata.json.zst'), path.join(tmp, 'cf-mono', subdir, 'repodata.json.zst'));
    await fs.copyFile(path.join(channel.dir, subdir, 'repodata.json'), path.join(tmp, 'cf-mono', subdir, 'repodata.json'));
  }
  const specs = syntheticSpecs(channel, 6, 3);
  const solve = async (name: string): Promise<string[]> => {
    const solver = new RattlerSolver(new FetchWrapper({ cacheDir: path.join(tmp, `cache-${name}`) }), { jobs: 1 });
    try {
      const logger = new MemoryLogger();
      const records = await solver.solve({ specs, channels: [`${server.url}/${name}`], platform: 'linux-64', virtualPackages: virtualPackages('linux-64', {}), env: name, logger });
      return records.map((r) => `${r.name}-${r.version}-${r.build} ${r.sha256} ${r.license}`).sort();
    } finally {
      await solver.close();
    }
  };
  server.clearRequests();
  const sharded = await solve('cf');
  expect(server.requests.some((r) => /\/cf\/linux-64\/shards\/[0-9a-f]{64}\.msgpack\.zst$/.test(r.path))).toBe(true);
  expect(server.requests.some((r) => r.path === '/cf/linux-64/repodata.json.zst')).toBe(false);
  const mono = await solve('cf-mono');
  expect(sharded.length).toBeGreaterThan(6);
  expect(sharded).toEqual(mono);
});
