/**
 * Leaving out the records that can never be installed (src/solver/viable.ts) must not change a
 * single answer: the same environments solved with the solver served every reachable record
 * (`GITENV_SOLVER_PRUNE=names`) and only the viable ones give the same packages, and an
 * unsolvable environment is still explained by the solver.
 */
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { serveChannel, type ChannelServer } from '../fixtures/channel/index.js';
import { syntheticSpecs, writeSyntheticChannel, type SyntheticRepodata } from '../fixtures/channel/synthetic.js';
import { FetchWrapper } from '../../src/net/fetch-wrapper.js';
import { RattlerSolver } from '../../src/solver/rattler-solver.js';
import { virtualPackages } from '../../src/conda/virtual-packages.js';
import { MemoryLogger } from '../../src/util/logger.js';

let tmp: string;
let server: ChannelServer;
let synthetic: SyntheticRepodata;

beforeAll(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'gitenv-viable-'));
  synthetic = await writeSyntheticChannel(path.join(tmp, 'channel'), 20_000, { seed: 7 });
  server = await serveChannel(tmp, { maxRequests: 1_000_000 });
});
afterAll(async () => {
  await server.close();
  await fs.rm(tmp, { recursive: true, force: true });
});

/** Each environment's solved file names (or its error), with pruning as `mode` says. */
async function solveAll(envs: string[][], mode: 'records' | 'names'): Promise<{ answers: string[]; log: string }> {
  const before = process.env.GITENV_SOLVER_PRUNE;
  if (mode === 'names') process.env.GITENV_SOLVER_PRUNE = 'names';
  else delete process.env.GITENV_SOLVER_PRUNE;
  const logger = new MemoryLogger();
  const solver = new RattlerSolver(new FetchWrapper({ cacheDir: path.join(tmp, `cache-${mode}`), logger }));
  try {
    const answers: string[] = [];
    for (const [i, specs] of envs.entries()) {
      try {
        const records = await solver.solve({ specs, channels: [`${server.url}/channel`], platform: 'linux-64', virtualPackages: virtualPackages('linux-64', {}), env: `env${i}`, logger });
        answers.push(
          records
            .map((r) => r.fn)
            .sort()
            .join(' '),
        );
      } catch (err) {
        answers.push(`error: ${(err as Error).constructor.name}`);
      }
    }
    return { answers, log: logger.lines().join('\n') };
  } finally {
    await solver.close();
    if (before === undefined) delete process.env.GITENV_SOLVER_PRUNE;
    else process.env.GITENV_SOLVER_PRUNE = before;
  }
}

test('the same packages for 24 environments with and without the records that can never be installed', async () => {
  const envs = Array.from({ length: 24 }, (_, i) => syntheticSpecs(synthetic, 4 + (i % 4) * 6, i + 1, 8 + (i % 5)));
  const pruned = await solveAll(envs, 'records');
  const full = await solveAll(envs, 'names');
  expect(pruned.answers).toEqual(full.answers);
  expect(pruned.answers.filter((a) => !a.startsWith('error')).length).toBeGreaterThan(20);
  // The pruning did happen, and left out most of what the specs reach.
  const counts = [...pruned.log.matchAll(/the solver gets (\d+) of the (\d+) records/g)].map((m) => [Number(m[1]), Number(m[2])]);
  expect(counts.length).toBeGreaterThan(20);
  expect(counts.every(([kept, all]) => kept < all)).toBe(true);
}, 300_000);

test('a spec left without any installable candidate goes to the solver unpruned, which explains it', async () => {
  // Two specs of python that no record meets together: nothing to prune to.
  const { answers, log } = await solveAll([['python 3.8.*', 'python >=3.12']], 'records');
  expect(answers).toEqual(['error: UnsolvableError']);
  expect(log).toMatch(/the solver gets the records of \d+ reachable package names/);
}, 120_000);
