/**
 * What a run holds of the repodata (src/solver/rattler-solver.ts, src/net/fetch-wrapper.ts): once a
 * subdir's repodata is parsed, the fetch wrapper lets its bytes go (they are in the cache) and the
 * solves after it take what the first one found, without asking again. The answers, and the keys
 * the next run's kept answers are found by, are those of a run that holds everything.
 */
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import zlib from 'node:zlib';
import { buildSeedChannel, serveChannel, type BuiltChannel, type ChannelServer } from '../fixtures/channel/index.js';
import { FetchWrapper } from '../../src/net/fetch-wrapper.js';
import { RattlerSolver } from '../../src/solver/rattler-solver.js';
import { virtualPackages } from '../../src/conda/virtual-packages.js';
import { MemoryLogger } from '../../src/util/logger.js';
import type { PackageRecord } from '../../src/conda/types.js';

let tmp: string;
let channel: BuiltChannel;
let server: ChannelServer;

beforeAll(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'gitenv-release-'));
  channel = await buildSeedChannel(path.join(tmp, 'site', 'plain'));
  // Bodies of some size (padded with JSON white space): buffers of their own, not slices of Node's pool.
  for (const subdir of ['linux-64', 'noarch']) {
    const file = path.join(channel.dir, subdir, 'repodata.json');
    await fs.writeFile(file, (await fs.readFile(file, 'utf8')).replace(/\}\s*$/, ' '.repeat(200_000) + '}'));
  }
  // The same channel as a server of repodata.json.zst (the solver asks for it first).
  await fs.cp(channel.dir, path.join(tmp, 'site', 'zst'), { recursive: true });
  for (const subdir of ['linux-64', 'noarch']) {
    const file = path.join(tmp, 'site', 'zst', subdir, 'repodata.json');
    const compress = (zlib as unknown as { zstdCompressSync: (b: Uint8Array) => Buffer }).zstdCompressSync;
    await fs.writeFile(`${file}.zst`, compress(await fs.readFile(file)));
  }
  server = await serveChannel(path.join(tmp, 'site'));
});
afterAll(async () => {
  await server.close();
  await fs.rm(tmp, { recursive: true, force: true });
});

const ENVS = [['numpy', 'python 3.*'], ['python 3.*'], ['numpy'], ['python 2.*']];
const names = (records: PackageRecord[]): string[] => records.map((r) => `${r.name}-${r.version}-${r.build} ${r.sha256 ?? ''} ${r.license ?? ''}`).sort();

/** Solves ENVS over `url` with one solver (two at a time); `cacheDir` undefined: no cache, nothing let go. */
async function run(url: string, cacheDir: string | undefined): Promise<{ answers: string[][]; fetcher: FetchWrapper; log: string }> {
  const logger = new MemoryLogger();
  const fetcher = new FetchWrapper({ cacheDir, logger });
  const solver = new RattlerSolver(fetcher, { jobs: 2 }, cacheDir ? { memoDir: path.join(cacheDir, 'solves') } : {});
  try {
    const solve = (specs: string[], i: number) => solver.solve({ specs, channels: [url], platform: 'linux-64', virtualPackages: virtualPackages('linux-64', {}), env: `env${i}`, logger });
    // The first two at once (both see the bytes before they are let go), then the others.
    const answers = await Promise.all(ENVS.slice(0, 2).map(solve));
    for (let i = 2; i < ENVS.length; i++) answers.push(await solve(ENVS[i], i));
    return { answers: answers.map(names), fetcher, log: logger.text() };
  } finally {
    await solver.close();
  }
}

test.each(['plain', 'zst'])('parsed repodata (%s) is let go by the fetch wrapper; later solves do not ask again; the same answers and memo keys as a run that keeps it all', async (variant) => {
  const url = `${server.url}/${variant}`;
  const file = variant === 'zst' ? 'repodata.json.zst' : 'repodata.json';
  const kept = await run(url, undefined);
  const repodataGets = (): number => server.requests.filter((r) => r.path.startsWith(`/${variant}/`) && r.path.endsWith(`/${file}`)).length;
  const before = repodataGets();
  const cacheDir = path.join(tmp, `cache-${variant}`);
  const released = await run(url, cacheDir);
  expect(released.answers).toEqual(kept.answers);
  expect(released.answers.every((a) => a.length > 0)).toBe(true);
  // Each subdir's repodata was fetched once, and let go: the wrapper already had (true) nothing left to let go.
  expect(repodataGets() - before).toBe(2);
  for (const subdir of ['linux-64', 'noarch']) expect(await released.fetcher.releaseRepodata(`${url}/${subdir}/${file}`)).toBe(true);
  expect(await kept.fetcher.releaseRepodata(`${url}/linux-64/${file}`)).toBe(false);
  // Asked again through the wrapper, the bytes come back from the cache, unchanged.
  const again = await released.fetcher.fetch(`${url}/linux-64/${file}`);
  expect(Buffer.from(await again.arrayBuffer()).equals(await fs.readFile(path.join(tmp, 'site', variant, 'linux-64', file)))).toBe(true);
  // The next run finds every answer kept under the key its own bytes give.
  const next = await run(url, cacheDir);
  expect(next.answers).toEqual(kept.answers);
  expect(next.log.match(/its answer is reused/g)).toHaveLength(ENVS.length);
});
