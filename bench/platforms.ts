/**
 * Benchmark of resolving several platforms (issue 13; `npx tsx bench/platforms.ts [records] [envs]`;
 * not a test). The generated channel's linux-64 repodata is copied to linux-aarch64 and osx-arm64
 * (same records, their subdir renamed, `__glibc` read as `__osx` for macOS), noarch is shared, all served over loopback HTTP. A run is
 * what the resolve phase does for `envs` environments: one FetchWrapper and one solver (its threads
 * started ahead, as the phase starts them while it fetches the repository), environments solved as
 * many at once as the solver has threads, the platforms of each side by side, each with that
 * platform's virtual packages. The figure
 * is the time of a run for three platforms divided by that of a run for linux-64 alone, both from
 * the same warm on-disk repodata cache, alternated and repeated; the goal is at most 2.5.
 */
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { serveChannel } from '../tests/fixtures/channel/index.js';
import { syntheticSpecs, writeSyntheticChannel } from '../tests/fixtures/channel/synthetic.js';
import { FetchWrapper } from '../src/net/fetch-wrapper.js';
import { RattlerSolver } from '../src/solver/rattler-solver.js';
import { virtualPackages } from '../src/conda/virtual-packages.js';
import { MemoryLogger } from '../src/util/logger.js';

const RECORDS = Number(process.argv[2] ?? 50_000);
const ENVS = Number(process.argv[3] ?? 5);
const ROUNDS = 3;
const SPECS = 20;
const THREE = ['linux-64', 'linux-aarch64', 'osx-arm64'];

async function copySubdir(dir: string, to: string): Promise<void> {
  const data = JSON.parse(await fs.readFile(path.join(dir, 'linux-64', 'repodata.json'), 'utf8')) as {
    info: { subdir: string };
    packages: Record<string, { subdir?: string; depends?: string[] }>;
    'packages.conda': Record<string, { subdir?: string; depends?: string[] }>;
  };
  data.info.subdir = to;
  // macOS has no glibc: what needs it there needs a macOS version instead.
  const osx = (d: string): string => (to.startsWith('osx-') && d.startsWith('__glibc') ? '__osx >=11.0' : d);
  for (const table of [data.packages, data['packages.conda']]) {
    for (const r of Object.values(table)) {
      r.subdir = to;
      if (r.depends) r.depends = r.depends.map(osx);
    }
  }
  await fs.mkdir(path.join(dir, to), { recursive: true });
  await fs.writeFile(path.join(dir, to, 'repodata.json'), JSON.stringify(data));
}

/**
 * One resolve run, scheduled as the resolve phase schedules it (src/phases/resolve.ts): as many
 * environments at once as the solver has threads, in order, and the platforms of an environment
 * side by side. Returns wall ms and the requests made.
 */
async function run(channelUrl: string, cacheDir: string, envSpecs: string[][], platforms: string[]): Promise<{ ms: number; requests: number; packages: number }> {
  const logger = new MemoryLogger();
  const fetcher = new FetchWrapper({ cacheDir, logger });
  const solver = new RattlerSolver(fetcher);
  solver.warm();
  let packages = 0;
  const t0 = performance.now();
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < envSpecs.length) {
      const i = next++;
      const solved = await Promise.all(
        platforms.map((platform) => solver.solve({ specs: envSpecs[i], channels: [channelUrl], platform, virtualPackages: virtualPackages(platform, {}), env: `env${i}`, logger })),
      );
      for (const records of solved) packages += records.length;
    }
  };
  await Promise.all(Array.from({ length: solver.concurrency }, worker));
  const ms = performance.now() - t0;
  await solver.close();
  return { ms, requests: fetcher.stats.requests, packages };
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function main(): Promise<void> {
  const tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'gitenv-bench-platforms-'));
  try {
    const dir = path.join(tmp, 'channel');
    const synthetic = await writeSyntheticChannel(dir, RECORDS);
    for (const p of THREE.slice(1)) await copySubdir(dir, p);
    console.log(`channel: ${synthetic.count} records over linux-64 and noarch; linux-64 copied to ${THREE.slice(1).join(' and ')}`);
    const server = await serveChannel(tmp, { maxRequests: 1_000_000 });
    try {
      const url = `${server.url}/channel`;
      const envSpecs = Array.from({ length: ENVS }, (_, i) => syntheticSpecs(synthetic, SPECS, i + 1));
      const cacheDir = path.join(tmp, 'cache');
      await run(url, cacheDir, envSpecs.slice(0, 1), THREE); // fills the on-disk cache for every subdir
      const one: number[] = [];
      const three: number[] = [];
      for (let round = 0; round < ROUNDS; round++) {
        const a = await run(url, cacheDir, envSpecs, ['linux-64']);
        const b = await run(url, cacheDir, envSpecs, THREE);
        one.push(a.ms);
        three.push(b.ms);
        console.log(
          `  round ${round + 1}: linux-64 ${a.ms.toFixed(0)} ms (${a.requests} requests, ${a.packages} packages); three platforms ${b.ms.toFixed(0)} ms (${b.requests} requests, ${b.packages} packages)`,
        );
      }
      const ratio = median(three) / median(one);
      // A first run: empty on-disk cache, so the downloads count too (noarch downloaded once).
      const coldOne: number[] = [];
      const coldThree: number[] = [];
      for (let round = 0; round < 2; round++) {
        const a = await run(url, path.join(tmp, `cold-a-${round}`), envSpecs, ['linux-64']);
        const b = await run(url, path.join(tmp, `cold-b-${round}`), envSpecs, THREE);
        coldOne.push(a.ms);
        coldThree.push(b.ms);
        console.log(`  empty cache, round ${round + 1}: linux-64 ${a.ms.toFixed(0)} ms; three platforms ${b.ms.toFixed(0)} ms`);
      }
      const coldRatio = Math.min(...coldThree) / Math.min(...coldOne);
      console.log('\nsummary');
      console.log(
        `  load average at the end: ${os
          .loadavg()
          .map((l) => l.toFixed(1))
          .join(' ')} on ${os.cpus().length} cores`,
      );
      console.log(`  ${ENVS} environments x ${SPECS} specs: one platform median ${median(one).toFixed(0)} ms, three platforms median ${median(three).toFixed(0)} ms`);
      console.log(`  three platforms / one platform = ${ratio.toFixed(2)} from a warm repodata cache, ${coldRatio.toFixed(2)} from an empty one; goal <= 2.5 (noarch fetched and parsed once per run)`);
    } finally {
      await server.close();
    }
  } finally {
    await fs.rm(tmp, { recursive: true, force: true });
  }
}

await main();
