/**
 * Benchmark of the builtin resolve (`npx tsx bench/resolve.ts [records] [envs]`; not a test):
 * 20 environments of 20 specs against a generated channel of 150,000 records served over loopback
 * HTTP, solved the way the resolve phase solves them (one FetchWrapper per run, on-disk repodata
 * cache). Prints the solve time per environment and the bytes fetched on a first run (empty cache)
 * and on a second run (same cache, unchanged channel).
 */
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { serveChannel } from '../tests/fixtures/channel/index.js';
import { syntheticSpecs, writeSyntheticChannel, type SyntheticRepodata } from '../tests/fixtures/channel/synthetic.js';
import { FetchWrapper } from '../src/net/fetch-wrapper.js';
import { RattlerSolver } from '../src/solver/rattler-solver.js';
import { virtualPackages } from '../src/conda/virtual-packages.js';
import { MemoryLogger } from '../src/util/logger.js';

const RECORDS = Number(process.argv[2] ?? 150_000);
const ENVS = Number(process.argv[3] ?? 20);
const SPECS = 20;

interface RunFigures {
  times: number[];
  /** CPU time of this process (user + system) per environment: less at the mercy of other load. */
  cpu: number[];
  packages: number[];
  requests: number;
  bytesFetched: number;
  bytesSent: number;
  notModified: number;
  reused: number;
}

async function runOnce(channelUrl: string, cacheDir: string, envSpecs: string[][], bytesSent: () => number): Promise<RunFigures> {
  const logger = new MemoryLogger();
  const fetcher = new FetchWrapper({ cacheDir, logger });
  const solver = new RattlerSolver(fetcher);
  const sentBefore = bytesSent();
  const times: number[] = [];
  const cpu: number[] = [];
  const packages: number[] = [];
  for (const [i, specs] of envSpecs.entries()) {
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    const records = await solver.solve({
      specs,
      channels: [channelUrl],
      platform: 'linux-64',
      virtualPackages: virtualPackages('linux-64', {}),
      env: `env${i}`,
      logger,
    });
    times.push(performance.now() - t0);
    const c = process.cpuUsage(c0);
    cpu.push((c.user + c.system) / 1000);
    packages.push(records.length);
  }
  const s = fetcher.stats;
  return { times, cpu, packages, requests: s.requests, bytesFetched: s.bytesFetched, bytesSent: bytesSent() - sentBefore, notModified: s.notModified, reused: s.reused };
}

const ms = (x: number): string => `${x.toFixed(0)} ms`;
const mb = (x: number): string => `${(x / 1e6).toFixed(2)} MB`;
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

function report(label: string, r: RunFigures): void {
  console.log(`\n${label}`);
  r.times.forEach((t, i) => console.log(`  env${String(i).padStart(2, '0')}  wall ${ms(t).padStart(8)}  cpu ${ms(r.cpu[i]).padStart(8)}  ${r.packages[i]} packages`));
  const rest = r.times.slice(1);
  console.log(`  first env ${ms(r.times[0])} (fetch + parse + solve), then median ${ms(median(rest))}, max ${ms(Math.max(...rest))}; cpu median ${ms(median(r.cpu.slice(1)))}`);
  console.log(`  requests ${r.requests}, 304s ${r.notModified}, reused in-run ${r.reused}; bytes fetched ${r.bytesFetched} (${mb(r.bytesFetched)}), server sent ${r.bytesSent}`);
}

async function main(): Promise<void> {
  const tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'gitenv-bench-'));
  try {
    let t0 = performance.now();
    const synthetic: SyntheticRepodata = await writeSyntheticChannel(path.join(tmp, 'channel'), RECORDS);
    const sizes = await Promise.all(['linux-64', 'noarch'].map((s) => fs.stat(path.join(tmp, 'channel', s, 'repodata.json')).then((st) => st.size)));
    console.log(`channel: ${synthetic.count} records, repodata ${sizes.map(mb).join(' + ')}, generated in ${ms(performance.now() - t0)}`);
    const server = await serveChannel(tmp, { maxRequests: 1_000_000 });
    try {
      const envSpecs = Array.from({ length: ENVS }, (_, i) => syntheticSpecs(synthetic, SPECS, i + 1));
      const cacheDir = path.join(tmp, 'cache');
      t0 = performance.now();
      const first = await runOnce(`${server.url}/channel`, cacheDir, envSpecs, server.bytesSent);
      const firstTotal = performance.now() - t0;
      t0 = performance.now();
      const second = await runOnce(`${server.url}/channel`, cacheDir, envSpecs, server.bytesSent);
      const secondTotal = performance.now() - t0;
      report(`first run (empty cache), ${ENVS} environments x ${SPECS} specs, total ${ms(firstTotal)}`, first);
      report(`second run (same cache, channel unchanged), total ${ms(secondTotal)}`, second);
      // The first environment of a run also reads and parses the whole repodata once.
      const solveTimes = [...first.times.slice(1), ...second.times.slice(1)];
      const solveCpu = [...first.cpu.slice(1), ...second.cpu.slice(1)];
      console.log('\nsummary');
      console.log(`  load average at the end: ${os.loadavg().map((l) => l.toFixed(1)).join(' ')} on ${os.cpus().length} cores`);
      console.log(`  solve time per environment (repodata already parsed): wall median ${ms(median(solveTimes))}, max ${ms(Math.max(...solveTimes))}; cpu median ${ms(median(solveCpu))}, max ${ms(Math.max(...solveCpu))}; goal < 1500 ms`);
      console.log(`  first environment of a run (read + parse 62 MB of repodata, then solve): ${ms(first.times[0])} with an empty cache, ${ms(second.times[0])} from the cache`);
      console.log(`  second run fetched ${second.bytesFetched} bytes = ${((100 * second.bytesFetched) / first.bytesFetched).toFixed(4)}% of the first run's ${first.bytesFetched}; goal < 1%`);
    } finally {
      await server.close();
    }
  } finally {
    await fs.rm(tmp, { recursive: true, force: true });
  }
}

await main();
