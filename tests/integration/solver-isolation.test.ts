/**
 * Each environment's solve runs in a worker thread with its own WASM instance, a memory limit and a
 * timeout: a solve that blows past the limit, crashes or runs out of time fails that environment,
 * named, with the reason, and every other environment is resolved and pushed as usual; solves of
 * different environments run in different threads at once. Through the sources (resolve phase,
 * solver, pool) and through the committed CLI bundle, whose threads load the bundle itself.
 */
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { buildSeedChannel, type BuiltChannel } from '../fixtures/channel/index.js';
import { ensureBundles } from '../fixtures/bundles.js';
import { cleanEnv, runNode } from '../fixtures/git-frontends.js';
import { GitFixture } from '../fixtures/git-repo.js';
import { FetchWrapper } from '../../src/net/fetch-wrapper.js';
import { resolve } from '../../src/phases/resolve.js';
import { SolverCrashError } from '../../src/solver/errors.js';
import { RattlerSolver } from '../../src/solver/rattler-solver.js';
import { SolverCrash, SolvePool } from '../../src/solver/solve-pool.js';
import type { FetchReply, FetchRequest } from '../../src/solver/solve-worker.js';
import { virtualPackages } from '../../src/solver/virtual-packages.js';
import { MemoryLogger } from '../../src/util/logger.js';
import { resolveSettings, specText } from './resolve-support.js';

let fx: GitFixture;
let seed: BuiltChannel;
/** A local channel whose one name has 60,000 builds: parsing them takes the WASM solver well past 24 MB. */
let heavyUrl: string;

const HEAVY_RECORDS = 60_000;

async function writeHeavyChannel(dir: string): Promise<string> {
  const packages: Record<string, unknown> = {};
  for (let i = 0; i < HEAVY_RECORDS; i++) {
    packages[`heavy-1.${i}-0.tar.bz2`] = {
      name: 'heavy',
      version: `1.${i}`,
      build: '0',
      build_number: 0,
      depends: [`heavydep >=${i % 97}`],
      license: 'MIT',
      md5: '0'.repeat(32),
      sha256: '0'.repeat(64),
      size: 1000 + i,
      subdir: 'linux-64',
      timestamp: 1_700_000_000_000,
    };
  }
  packages['heavydep-100-0.tar.bz2'] = { name: 'heavydep', version: '100', build: '0', build_number: 0, depends: [], subdir: 'linux-64' };
  await fs.mkdir(path.join(dir, 'linux-64'), { recursive: true });
  await fs.mkdir(path.join(dir, 'noarch'), { recursive: true });
  await fs.writeFile(path.join(dir, 'linux-64', 'repodata.json'), JSON.stringify({ info: { subdir: 'linux-64' }, packages, 'packages.conda': {} }));
  await fs.writeFile(path.join(dir, 'noarch', 'repodata.json'), JSON.stringify({ info: { subdir: 'noarch' }, packages: {}, 'packages.conda': {} }));
  return pathToFileURL(dir).href;
}

beforeAll(async () => {
  fx = await GitFixture.create();
  seed = await buildSeedChannel(path.join(fx.root, 'seed'));
  heavyUrl = await writeHeavyChannel(path.join(fx.root, 'heavy'));
});
afterAll(async () => {
  await fx.cleanup();
});

const manifestBranches = async (): Promise<string[]> =>
  Object.keys(await fx.refs())
    .filter((r) => r.startsWith('refs/heads/manifest/'))
    .sort();

test('an environment that blows the memory limit fails, named, with the reason; the others resolve and are pushed', async () => {
  await fx.commit('good', { 'env.spec': specText([seed.url], ['python 2.*']) });
  await fx.commit('heavy', { 'env.spec': specText([heavyUrl], ['heavy']) });
  await fx.commit('numpy', { 'env.spec': specText([seed.url], ['numpy', 'python 3.*']) });
  const logger = new MemoryLogger();
  const env = { GITENV_SOLVER_MEMORY_MB: '24', GITENV_SOLVER_JOBS: '2' };
  const result = await resolve(resolveSettings(fx), { logger, env });

  expect(result.changed).toEqual(['good', 'numpy']);
  expect(result.failed.map((f) => f.env)).toEqual(['heavy']);
  expect(result.failed[0].message).toMatch(/^environment "heavy": the solver aborted \(RuntimeError: unreachable\) with \d+ MB of WASM memory in use, against a limit of 24 MB/);
  expect(await manifestBranches()).toEqual(['refs/heads/manifest/good', 'refs/heads/manifest/numpy']);
  expect(await fx.show('manifest/numpy', 'env.manifest')).toMatch(/\tnumpy-\S+-py311_0$/m);
  expect(logger.lines('error').join('\n')).toContain('environment "heavy"');
  // With the limit lifted, the same environment resolves: it was the limit, not the spec.
  const again = await resolve(resolveSettings(fx, { envs: ['heavy'] }), { logger: new MemoryLogger(), env: { GITENV_SOLVER_MEMORY_MB: '1024' } });
  expect(again).toMatchObject({ changed: ['heavy'], failed: [] });
  expect(await fx.show('manifest/heavy', 'env.manifest')).toMatch(new RegExp(`\theavy-1\\.${HEAVY_RECORDS - 1}-0$`, 'm'));
});

const request = (specs: string[], channel: string, env: string) => ({
  specs,
  channels: [channel],
  platform: 'linux-64',
  virtualPackages: virtualPackages('linux-64', {}),
  env,
  logger: new MemoryLogger(),
});

test('a solve still running at the timeout is stopped and fails its environment; a new thread serves the next', async () => {
  const solver = new RattlerSolver(new FetchWrapper({}), { jobs: 1, memoryMb: 1024, timeoutMs: 300 });
  try {
    const failed = await solver.solve(request(['heavy'], heavyUrl, 'slow')).catch((e: unknown) => e);
    expect(failed).toBeInstanceOf(SolverCrashError);
    expect(String(failed)).toContain('environment "slow": no answer from the solver after 0 s (GITENV_SOLVER_TIMEOUT)');
  } finally {
    await solver.close();
  }
  const roomy = new RattlerSolver(new FetchWrapper({}), { jobs: 1, memoryMb: 1024, timeoutMs: 120_000 });
  try {
    const records = await roomy.solve(request(['python 2.*'], seed.url, 'good'));
    expect(records.map((r) => r.name).sort()).toEqual(['openssl', 'python', 'zlib']);
  } finally {
    await roomy.close();
  }
});

test('solves of different environments run in different threads at the same time', async () => {
  // Each solve's first request is held until the other solve has asked for something: with one
  // thread at a time this would never finish.
  const pool = new SolvePool({ jobs: 2, memoryMb: 256, timeoutMs: 60_000 });
  const fetcher = new FetchWrapper({});
  const asked: Record<string, () => void> = {};
  const seen = { a: new Promise<void>((r) => (asked.a = r)), b: new Promise<void>((r) => (asked.b = r)) };
  const server =
    (me: 'a' | 'b', other: 'a' | 'b') =>
    async (req: FetchRequest): Promise<FetchReply> => {
      asked[me]();
      await seen[other];
      const response = await fetcher.fetch(fetcher.realUrl(req.url));
      const headers: [string, string][] = [];
      response.headers.forEach((v, k) => headers.push([k, v]));
      return { status: response.status, statusText: response.statusText, headers, body: response.status === 200 ? await response.arrayBuffer() : null };
    };
  const channel = fetcher.solverUrl(seed.url);
  const job = (specs: string[]) => ({ specs, channels: [channel], platforms: ['linux-64', 'noarch'], locked: [] });
  try {
    const [a, b] = await Promise.all([pool.solve(job(['zlib']), server('a', 'b')), pool.solve(job(['openssl']), server('b', 'a'))]);
    expect(a.map((p) => p.packageName)).toEqual(['zlib']);
    expect(b.map((p) => p.packageName).sort()).toEqual(['openssl', 'zlib']);
  } finally {
    await pool.close();
  }
});

test('a thread that crashes takes only its own solve down', async () => {
  const pool = new SolvePool({ jobs: 2, memoryMb: 2, timeoutMs: 60_000 });
  const fetcher = new FetchWrapper({});
  const serve = async (req: FetchRequest): Promise<FetchReply> => {
    const response = await fetcher.fetch(fetcher.realUrl(req.url));
    return { status: response.status, statusText: response.statusText, headers: [], body: response.status === 200 ? await response.arrayBuffer() : null };
  };
  const job = { specs: ['python 3.*'], channels: [fetcher.solverUrl(seed.url)], platforms: ['linux-64', 'noarch'], locked: [] };
  try {
    const crashed = await pool.solve(job, serve).catch((e: unknown) => e);
    expect(crashed).toBeInstanceOf(SolverCrash);
    expect((crashed as SolverCrash).reason).toMatch(/limit of 2 MB/);
  } finally {
    await pool.close();
  }
});

test('through the CLI bundle: the threads load the bundle itself, and the heavy environment fails alone', async () => {
  const cli = (await ensureBundles(['cli'])).cli;
  const repo = await GitFixture.create();
  try {
    await repo.commit('good', { 'env.spec': specText([seed.url], ['python 3.*']) });
    await repo.commit('heavy', { 'env.spec': specText([heavyUrl], ['heavy']) });
    const ran = await runNode([cli, 'resolve', repo.origin], cleanEnv({ GITENV_SOLVER_MEMORY_MB: '24', XDG_CACHE_HOME: path.join(repo.root, 'cache') }));
    expect(ran.code).not.toBe(0);
    expect(ran.stdout + ran.stderr).toMatch(/environment "heavy": the solver aborted \(RuntimeError: unreachable\)[^\n]*limit of 24 MB/);
    expect(Object.keys(await repo.refs()).filter((r) => r.startsWith('refs/heads/manifest/'))).toEqual(['refs/heads/manifest/good']);
  } finally {
    await repo.cleanup();
  }
}, 300_000);
