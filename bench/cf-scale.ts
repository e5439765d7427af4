/**
 * A conda-forge-sized channel (`npx tsx bench/cf-scale.ts [rounds] [sharded|monolithic]`; not a test): about 31,000 names
 * and 790,000 records over linux-64 and noarch (tests/fixtures/channel/cf-scale.ts; generated once,
 * then kept under the system's temporary directory), served on loopback HTTP two ways:
 *
 *  (a) sharded (CEP-16): the first environment end to end, 20 specs, from an empty repodata cache:
 *      `gitenv resolve --dry-run` (the built CLI, a process of its own) against py-rattler solving the
 *      same specs from a cold Python process with an empty cache. Rounds interleaved, medians.
 *  (b) monolithic (`repodata.json` + `.zst`, no shards): 20 environments x 20 specs in one
 *      `gitenv resolve --dry-run`, its wall time and peak RSS (threads included: one process)
 *      against py-rattler's for the same 20 (one Gateway).
 *
 * Prints ratios and the load average; no timed assertion. Needs `npm run build` (dist/cli) first.
 */
import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { serveChannel } from '../tests/fixtures/channel/server.js';
import { writeCfScaleChannel } from '../tests/fixtures/channel/cf-scale.js';
import { syntheticSpecs } from '../tests/fixtures/channel/synthetic.js';
import { GitFixture } from '../tests/fixtures/git-repo.js';

const ROUNDS = Number(process.argv[2] ?? 3);
/** `sharded` or `monolithic` runs only that part (default: both). */
const ONLY = process.argv[3];
const ENVS = 20;
class Skip extends Error {}
const SPECS = 20;
const SEED = 1;
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const CLI = path.join(ROOT, 'dist', 'cli', 'index.js');
/** Prints the process's peak RSS (kB, every thread of it) on stderr as it exits. */
// The process's own peak RSS (VmHWM): getrusage's maxrss survives exec, so a child reports its parent's peak when that is higher.
const MAXRSS_HOOK = `data:text/javascript,import fs from "node:fs";process.on("exit",()=>{const m=/VmHWM:\\s+(\\d+)/.exec(fs.readFileSync("/proc/self/status","utf8"));fs.writeSync(2,"\\nMAXRSS_KB "+(m?m[1]:process.resourceUsage().maxRSS)+"\\n")})`;

const PY = `
import asyncio, json, os, re, resource, sys, time
t0 = time.perf_counter()
import rattler
from rattler import Channel, Gateway, GenericVirtualPackage, PackageName, Platform, Version
from rattler.package.build_string import BuildString

async def main(url, cache, envs):
    gateway = Gateway(cache_dir=cache)
    vps = [GenericVirtualPackage(PackageName(n), Version(v), BuildString(b)) for n, v, b in [["__glibc", "2.28", "0"], ["__linux", "5.14", "0"], ["__unix", "0", "0"], ["__archspec", "1", "x86_64"]]]
    counts = []
    for specs in envs:
        records = await rattler.solve(sources=[Channel(url)], specs=specs, gateway=gateway, platforms=[Platform("linux-64"), Platform("noarch")], virtual_packages=vps)
        counts.append(len(records))
    print(json.dumps({"counts": counts, "seconds": time.perf_counter() - t0, "maxrss_kb": int(re.search(r"VmHWM:\\s+(\\d+)", open("/proc/self/status").read()).group(1))}))

asyncio.run(main(sys.argv[1], sys.argv[2], json.loads(sys.stdin.read())))
sys.stdout.flush()
os._exit(0)
`;

interface Run {
  ms: number;
  maxRssKb?: number;
  out: string;
}

/** Runs a command without blocking this process (the channel server lives here). */
function run(cmd: string, args: string[], env: NodeJS.ProcessEnv = {}, stdin?: string): Promise<Run> {
  return new Promise((resolve, reject) => {
    const t = performance.now();
    const child = execFile(cmd, args, { env: { ...process.env, ...env }, encoding: 'utf8', maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      const ms = performance.now() - t;
      if (err) return reject(new Error(`${path.basename(cmd)} ${args.slice(-3).join(' ')} failed: ${String(err).split('\n')[0]}\n${stderr.slice(-2000)}`));
      const rss = /MAXRSS_KB (\d+)/.exec(stderr);
      resolve({ ms, maxRssKb: rss ? Number(rss[1]) : undefined, out: stdout });
    });
    child.stdin?.end(stdin ?? '');
  });
}

async function gitenv(origin: string, cacheHome: string): Promise<Run> {
  const prof = process.env.CF_PROF ? ['--cpu-prof', '--cpu-prof-dir', process.env.CF_PROF] : [];
  return run(process.execPath, [...prof, '--import', MAXRSS_HOOK, CLI, 'resolve', origin, '--dry-run'], { XDG_CACHE_HOME: cacheHome });
}

async function pyRattler(url: string, cacheDir: string, envs: string[][]): Promise<Run & { counts: number[]; seconds: number }> {
  const r = await run('python3', ['-c', PY, url, cacheDir], {}, JSON.stringify(envs));
  const j = JSON.parse(r.out) as { counts: number[]; seconds: number; maxrss_kb: number };
  return { ...r, counts: j.counts, seconds: j.seconds, maxRssKb: j.maxrss_kb };
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const s = (ms: number): string => `${(ms / 1000).toFixed(2)} s`;
const mb = (kb: number | undefined): string => (kb === undefined ? '?' : `${(kb / 1024).toFixed(0)} MB`);
const load = (): string =>
  os
    .loadavg()
    .map((l) => l.toFixed(1))
    .join(' ');

function envSpec(url: string, specs: string[]): string {
  return `channels:\n  - ${url}\nenv:\n${specs.map((x) => `  - ${x}`).join('\n')}\n`;
}

async function main(): Promise<void> {
  await fs.access(CLI).catch(() => {
    throw new Error(`${CLI} is missing: run npm run build first`);
  });
  let t0 = performance.now();
  const channel = await writeCfScaleChannel(path.join(os.tmpdir(), `gitenv-cf-scale-seed${SEED}`), { seed: SEED });
  const b = channel.bytes;
  console.log(
    `channel: ${channel.names.length} names, ${channel.count} records (linux-64 ${channel.perSubdir['linux-64']}, noarch ${channel.perSubdir.noarch}); ` +
      `repodata.json ${mb(b['linux-64'].json / 1024)} + ${mb(b.noarch.json / 1024)}, .zst ${mb(b['linux-64'].zst / 1024)} + ${mb(b.noarch.zst / 1024)}, ` +
      `shards ${mb(b['linux-64'].shards / 1024)} + ${mb(b.noarch.shards / 1024)}; ready in ${s(performance.now() - t0)}`,
  );
  const fx = await GitFixture.create();
  try {
    // The site: /cf is the channel with shards, /cf-mono the same repodata without them.
    const site = path.join(fx.root, 'site');
    await fs.mkdir(site);
    await fs.symlink(channel.dir, path.join(site, 'cf'));
    for (const subdir of ['linux-64', 'noarch']) {
      await fs.mkdir(path.join(site, 'cf-mono', subdir), { recursive: true });
      for (const f of ['repodata.json', 'repodata.json.zst']) await fs.symlink(path.join(channel.dir, subdir, f), path.join(site, 'cf-mono', subdir, f));
    }
    const server = await serveChannel(site, { maxRequests: 10_000_000 });
    try {
      const envSpecs = Array.from({ length: ENVS }, (_, i) => syntheticSpecs(channel, SPECS, i + 1));
      const sharded = `${server.url}/cf`;
      const mono = `${server.url}/cf-mono`;

      // (a) sharded, one environment, empty caches, rounds interleaved.
      const one = await GitFixture.create();
      try {
        if (ONLY === 'monolithic') throw new Skip();
        await one.commit('env0', { 'env.spec': envSpec(sharded, envSpecs[0]) });
        const g: Run[] = [];
        const p: (Run & { counts: number[]; seconds: number })[] = [];
        for (let round = 0; round < ROUNDS; round++) {
          g.push(await gitenv(one.origin, path.join(fx.root, `xdg-a${round}`)));
          p.push(await pyRattler(sharded, path.join(fx.root, `py-a${round}`), envSpecs.slice(0, 1)));
        }
        const gm = median(g.map((r) => r.ms));
        const pm = median(p.map((r) => r.ms));
        console.log(`\n(a) sharded, first environment (${SPECS} specs, ${p[0].counts[0]} packages for py-rattler), end to end from an empty cache, ${ROUNDS} rounds, medians:`);
        console.log(`  gitenv resolve --dry-run (CLI process)  ${s(gm)}  [${g.map((r) => s(r.ms)).join(', ')}], peak RSS ${mb(median(g.map((r) => r.maxRssKb ?? 0)))}`);
        console.log(`  py-rattler (python3 -c, cold)           ${s(pm)}  [${p.map((r) => s(r.ms)).join(', ')}], peak RSS ${mb(median(p.map((r) => r.maxRssKb ?? 0)))}`);
        console.log(`  ratio gitenv / py-rattler: ${(gm / pm).toFixed(2)}x (goal <= 2x); load average ${load()}`);
      } catch (err) {
        if (!(err instanceof Skip)) throw err;
      } finally {
        await one.cleanup();
      }
      if (ONLY === 'sharded') return;

      // (b) monolithic, 20 environments in one run, empty caches.
      for (let i = 0; i < ENVS; i++) await fx.commit(`env${i}`, { 'env.spec': envSpec(mono, envSpecs[i]) });
      t0 = performance.now();
      const g = await gitenv(fx.origin, path.join(fx.root, 'xdg-b'));
      const counts = new Map([...g.out.matchAll(/^\s*env(\d+): (\d+) packages/gm)].map((m) => [Number(m[1]), Number(m[2])]));
      const resolved = counts.size;
      const p = await pyRattler(mono, path.join(fx.root, 'py-b'), envSpecs);
      console.log(`\n(b) monolithic (repodata.json.zst, no shards), ${ENVS} environments x ${SPECS} specs, one run from an empty cache:`);
      console.log(`  gitenv resolve --dry-run: ${s(g.ms)}, peak RSS ${mb(g.maxRssKb)} (goal < 2048 MB)${resolved ? `, ${resolved} environments reported` : ''}`);
      console.log(`  py-rattler (one Gateway): ${s(p.ms)}, peak RSS ${mb(p.maxRssKb)}; packages per environment ${p.counts.join(' ')}`);
      const differ = p.counts.map((n, i) => (counts.get(i) === n ? '' : `env${i} ${counts.get(i) ?? '?'} vs ${n}`)).filter(Boolean);
      console.log(`  package counts: ${differ.length === 0 ? `the same in all ${ENVS} environments` : `differ in ${differ.length}: ${differ.join(', ')}`}`);
      console.log(
        `  ratio gitenv / py-rattler: time ${(g.ms / p.ms).toFixed(2)}x, peak RSS ${((g.maxRssKb ?? 0) / (p.maxRssKb ?? 1)).toFixed(2)}x; load average ${load()} on ${os.cpus().length} cores`,
      );
    } finally {
      await server.close();
    }
  } finally {
    await fx.cleanup();
  }
}

await main();
