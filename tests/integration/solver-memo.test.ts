/**
 * Answers kept for the next run (src/solver/solve-memo.ts): reused only when the specs, the
 * platform, the virtual packages, the channels and the bytes of every repodata are the same;
 * a changed channel, a damaged file or a failed solve never gives an answer of its own.
 */
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { buildSeedChannel, serveChannel, SEED_VERSIONS, type BuiltChannel, type ChannelServer } from '../fixtures/channel/index.js';
import { FetchWrapper } from '../../src/net/fetch-wrapper.js';
import { RattlerSolver } from '../../src/solver/rattler-solver.js';
import { virtualPackages } from '../../src/conda/virtual-packages.js';
import { MemoryLogger } from '../../src/util/logger.js';
import type { PackageRecord } from '../../src/conda/types.js';

let tmp: string;
let channel: BuiltChannel;
let server: ChannelServer;

beforeAll(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'gitenv-memo-'));
  channel = await buildSeedChannel(path.join(tmp, 'chan'));
  server = await serveChannel(channel.dir);
});
afterAll(async () => {
  await server.close();
  await fs.rm(tmp, { recursive: true, force: true });
});

/** One run: a fresh wrapper and solver over the shared cache directory, as the resolve phase makes them. */
async function run(cacheDir: string, specs: string[], platformVirtuals = virtualPackages('linux-64', {})): Promise<{ records?: PackageRecord[]; error?: Error; log: string }> {
  const logger = new MemoryLogger();
  const solver = new RattlerSolver(new FetchWrapper({ cacheDir, logger }), {}, { memoDir: path.join(cacheDir, 'solves') });
  try {
    const records = await solver.solve({ specs, channels: [server.url], platform: 'linux-64', virtualPackages: platformVirtuals, env: 'default', logger });
    return { records, log: logger.text() };
  } catch (error) {
    return { error: error as Error, log: logger.text() };
  } finally {
    await solver.close();
  }
}

const names = (records: PackageRecord[] | undefined): string[] => (records ?? []).map((r) => `${r.name}-${r.version}-${r.build}`).sort();

test('an unchanged channel gives the next run the same answer without a solve; anything else solves again', async () => {
  const cacheDir = path.join(tmp, 'cache');
  const first = await run(cacheDir, ['numpy', 'python 3.*']);
  expect(first.log).not.toMatch(/answer is reused/);
  expect(names(first.records)).toContain(`python-${SEED_VERSIONS.python3}-0`);
  expect((await fs.readdir(path.join(cacheDir, 'solves'))).filter((f) => f.endsWith('.json'))).toHaveLength(1);

  const second = await run(cacheDir, ['numpy', 'python 3.*']);
  expect(second.log).toMatch(/the same specs over the same repodata as an earlier run \(linux-64\): its answer is reused, 4 packages/);
  expect(second.records).toEqual(first.records);

  // Other specs, other virtual packages: solved.
  const other = await run(cacheDir, ['python 2.*']);
  expect(other.log).not.toMatch(/answer is reused/);
  expect(names(other.records)).toContain(`python-${SEED_VERSIONS.python2}-0`);
  const oldGlibc = await run(cacheDir, ['numpy', 'python 3.*'], virtualPackages('linux-64', { CONDA_OVERRIDE_GLIBC: '2.99' }));
  expect(oldGlibc.log).not.toMatch(/answer is reused/);

  // The channel changes (the newest python is withdrawn): the next run solves, and sees the change.
  const repodataFile = path.join(channel.dir, 'linux-64', 'repodata.json');
  const original = await fs.readFile(repodataFile, 'utf8');
  const repodata = JSON.parse(original) as Record<string, Record<string, { name: string; version: string }>>;
  for (const table of ['packages', 'packages.conda']) {
    for (const [fn, r] of Object.entries(repodata[table] ?? {})) if (r.name === 'python' && r.version === SEED_VERSIONS.python3) delete repodata[table][fn];
  }
  await fs.writeFile(repodataFile, JSON.stringify(repodata));
  try {
    const changed = await run(cacheDir, ['numpy', 'python 3.*']);
    expect(changed.log).not.toMatch(/answer is reused/);
    expect(names(changed.records)).not.toContain(`python-${SEED_VERSIONS.python3}-0`);
  } finally {
    await fs.writeFile(repodataFile, original);
  }
}, 120_000);

test('a damaged or foreign answer file is ignored, and a failed solve keeps nothing', async () => {
  const cacheDir = path.join(tmp, 'cache-damaged');
  const first = await run(cacheDir, ['numpy', 'python 3.*']);
  const dir = path.join(cacheDir, 'solves');
  const [file] = (await fs.readdir(dir)).filter((f) => f.endsWith('.json'));
  // Another answer under this name (a file copied over, a tampered cache): not taken.
  await fs.writeFile(path.join(dir, file), JSON.stringify({ key: '0'.repeat(64), records: [] }));
  const foreign = await run(cacheDir, ['numpy', 'python 3.*']);
  expect(foreign.log).not.toMatch(/answer is reused/);
  expect(foreign.records).toEqual(first.records);
  await fs.writeFile(path.join(dir, file), '{"key": "trunc');
  const damaged = await run(cacheDir, ['numpy', 'python 3.*']);
  expect(damaged.log).not.toMatch(/answer is reused/);
  expect(damaged.records).toEqual(first.records);

  const before = (await fs.readdir(dir)).length;
  const failed = await run(cacheDir, ['numpy', 'python 9.*']);
  expect(failed.error?.constructor.name).toBe('UnsolvableError');
  expect((await fs.readdir(dir)).length).toBe(before);
}, 120_000);
