/**
 * Benchmark of the builtin resolve (`npx tsx bench/resolve.ts [records] [envs]`; not a test):
 * 20 environments of 20 specs against a generated channel of 150,000 records served over loopback
 * HTTP, solved the way the resolve phase solves them (one FetchWrapper per run, on-disk repodata
 * cache, the solver's threads working on as many environments at once as it has threads). Prints
 * the solve time per environment and the bytes fetched on a first run (empty cache) and on a second
 * run (same cache, unchanged channel: the answers of the first are reused), the solve times of a
 * run that solves again from the cache (two threads, then one), and py-rattler's times for the same environments over the
 * same server (one Gateway for the 20, as a py-rattler user would), as ratios.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
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
  /** All environments, first request to last answer. */
  wall: number;
  jobs: number;
  /** CPU time of this process, its solver threads included (user + system), for the whole run. */
  cpu: number[];
  packages: number[];
  requests: number;
  bytesFetched: number;
  bytesSent: number;
  notModified: number;
  reused: number;
}

/** One run as the resolve phase makes it; `memo`: answers kept for (and taken from) other runs; `jobs`: solver threads. */
async function runOnce(channelUrl: string, cacheDir: string, envSpecs: string[][], bytesSent: () => number, memo: boolean, jobs?: number): Promise<RunFigures> {
  const logger = new MemoryLogger();
  const fetcher = new FetchWrapper({ cacheDir, logger });
  const solver = new RattlerSolver(fetcher, jobs ? { jobs } : {}, memo ? { memoDir: path.join(cacheDir, 'solves') } : {});
  solver.warm();
  const sentBefore = bytesSent();
  const times: number[] = [];
  const cpu: number[] = [];
  const packages: number[] = [];
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  // As the resolve phase does: as many environments at once as the solver has threads, in order.
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < envSpecs.length) {
      const i = next++;
      const start = performance.now();
      const records = await solver.solve({
        specs: envSpecs[i],
        channels: [channelUrl],
        platform: 'linux-64',
        virtualPackages: virtualPackages('linux-64', {}),
        env: `env${i}`,
        logger,
      });
      times[i] = performance.now() - start;
      packages[i] = records.length;
    }
  };
  await Promise.all(Array.from({ length: solver.concurrency }, worker));
  const wall = performance.now() - t0;
  const c = process.cpuUsage(c0);
  cpu.push((c.user + c.system) / 1000);
  await solver.close();
  const s = fetcher.stats;
  return {
    times,
    cpu,
    packages,
    wall,
    jobs: solver.concurrency,
    requests: s.requests,
    bytesFetched: s.bytesFetched,
    bytesSent: bytesSent() - sentBefore,
    notModified: s.notModified,
    reused: s.reused,
  };
}

/** py-rattler over the same server: one Gateway for every environment; seconds per environment. */
const PY_RATTLER = `
import asyncio, json, os, sys, time
import rattler
from rattler import Channel, Gateway, GenericVirtualPackage, PackageName, Platform, Version
from rattler.package.build_string import BuildString

async def main(url, cache, envs):
    gateway = Gateway(cache_dir=cache)
    vps = [GenericVirtualPackage(PackageName(n), Version(v), BuildString(b)) for n, v, b in [["__glibc", "2.28", "0"], ["__linux", "5.14", "0"], ["__unix", "0", "0"], ["__archspec", "1", "x86_64"]]]
    times, counts = [], []
    t0 = time.perf_counter()
    for specs in envs:
        t = time.perf_counter()
        records = await rattler.solve(sources=[Channel(url)], specs=specs, gateway=gateway, platforms=[Platform("linux-64"), Platform("noarch")], virtual_packages=vps)
        times.append(time.perf_counter() - t)
        counts.append(len(records))
    print(json.dumps({"times": times, "counts": counts, "wall": time.perf_counter() - t0}))

asyncio.run(main(sys.argv[1], sys.argv[2], json.loads(sys.stdin.read())))
sys.stdout.flush()
os._exit(0)
`;

async function pyRattler(channelUrl: string, cacheDir: string, envSpecs: string[][]): Promise<{ times: number[]; counts: number[]; wall: number } | undefined> {
  try {
    // Asynchronously: the channel server lives in this process.
    const run = promisify(execFile)('python3', ['-c', PY_RATTLER, channelUrl, cacheDir], { encoding: 'utf8', maxBuffer: 16 << 20 });
    run.child.stdin?.end(JSON.stringify(envSpecs));
    const r = JSON.parse((await run).stdout) as { times: number[]; counts: number[]; wall: number };
    return { times: r.times.map((t) => t * 1000), counts: r.counts, wall: r.wall * 1000 };
  } catch (err) {
    console.log(`  py-rattler could not run (${String(err).split('\n')[0]}): no ratios`);
    return undefined;
  }
}

const ms = (x: number): string => `${x.toFixed(0)} ms`;
const mb = (x: number): string => `${(x / 1e6).toFixed(2)} MB`;
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

function report(label: string, r: RunFigures): void {
  console.log(`\n${label}`);
  r.times.forEach((t, i) => console.log(`  env${String(i).padStart(2, '0')}  wall ${ms(t).padStart(8)}  ${r.packages[i]} packages`));
  const rest = r.times.slice(1);
  console.log(
    `  ${r.jobs} solver threads; all ${r.times.length} environments ${ms(r.wall)} wall, ${ms(r.cpu[0])} cpu; first env ${ms(r.times[0])} (fetch + parse + solve), then median ${ms(median(rest))}, max ${ms(Math.max(...rest))}`,
  );
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
      const first = await runOnce(`${server.url}/channel`, cacheDir, envSpecs, server.bytesSent, true);
      const firstTotal = performance.now() - t0;
      t0 = performance.now();
      const second = await runOnce(`${server.url}/channel`, cacheDir, envSpecs, server.bytesSent, true);
      const secondTotal = performance.now() - t0;
      // The same again without the answers of the first run: every environment solved, from the cached repodata.
      const third = await runOnce(`${server.url}/channel`, cacheDir, envSpecs, server.bytesSent, false);
      // And one environment at a time, as py-rattler is run.
      const single = await runOnce(`${server.url}/channel`, cacheDir, envSpecs, server.bytesSent, false, 1);
      report(`first run (empty cache), ${ENVS} environments x ${SPECS} specs, total ${ms(firstTotal)}`, first);
      report(`second run (same cache, channel unchanged: the answers of the first run reused), total ${ms(secondTotal)}`, second);
      report(`third run (same cache, answers not reused: every environment solved)`, third);
      report(`fourth run (as the third, one solver thread)`, single);
      const py = await pyRattler(`${server.url}/channel`, path.join(tmp, 'py-cache'), envSpecs);
      // The first environment of a run also reads and parses the whole repodata once.
      const solveTimes = [...first.times.slice(1), ...third.times.slice(1)];
      const singleTimes = single.times.slice(1);
      console.log('\nsummary');
      console.log(
        `  load average at the end: ${os
          .loadavg()
          .map((l) => l.toFixed(1))
          .join(' ')} on ${os.cpus().length} cores`,
      );
      console.log(`  solve time per environment (repodata already parsed, ${first.jobs} at once): wall median ${ms(median(solveTimes))}, max ${ms(Math.max(...solveTimes))}; goal < 1000 ms`);
      console.log(`  solve time per environment (repodata already parsed, one at a time): wall median ${ms(median(singleTimes))}, max ${ms(Math.max(...singleTimes))}`);
      if (py) {
        const pyRest = py.times.slice(1);
        const differ = py.counts.filter((n, i) => n !== first.packages[i]).length;
        console.log(
          `  py-rattler (one Gateway, one environment at a time): first env ${ms(py.times[0])}, then median ${ms(median(pyRest))}; all ${ENVS} ${ms(py.wall)}; package counts equal to gitenv's in ${ENVS - differ} of ${ENVS} environments`,
        );
        console.log(
          `  ratio gitenv / py-rattler: per environment, one at a time (median, parsed) ${(median(singleTimes) / median(pyRest)).toFixed(2)}x; with ${first.jobs} threads ${(median(solveTimes) / median(pyRest)).toFixed(2)}x; all ${ENVS} environments (first run, wall) ${(first.wall / py.wall).toFixed(2)}x; goal <= 1.5x`,
        );
      }
      console.log(`  second run, channel unchanged: ${ms(secondTotal)} for ${ENVS} environments; goal < 3000 ms`);
      console.log(`  first environment of a run (read + parse 62 MB of repodata, then solve): ${ms(first.times[0])} with an empty cache, ${ms(third.times[0])} from the cache`);
      console.log(`  second run fetched ${second.bytesFetched} bytes = ${((100 * second.bytesFetched) / first.bytesFetched).toFixed(4)}% of the first run's ${first.bytesFetched}; goal < 1%`);
    } finally {
      await server.close();
    }
  } finally {
    await fs.rm(tmp, { recursive: true, force: true });
  }
}

await main();
