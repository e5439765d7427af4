/**
 * One gitenv install, as bench/install.ts measures it: bundled by ncc as the actions are (so its
 * extraction threads load a bundle, as they do on a runner), run in a process of its own.
 *
 *   node <bundle> <request.json>   # {packages, prefix, cache}; prints {seconds, cpuSeconds, maxRssKb}
 */
import { readFileSync } from 'node:fs';
import fs from 'node:fs/promises';
import type { LockedPackage } from '../src/conda/types.js';
import { BuiltinInstaller } from '../src/installer/builtin-installer.js';
import { inExtractWorker, serveExtractions } from '../src/installer/extract-worker.js';
import { ConsoleLogger, MemoryLogger } from '../src/util/logger.js';

interface ChildRequest {
  packages: LockedPackage[];
  prefix: string;
  cache: string;
}

async function child(requestFile: string): Promise<void> {
  const request = JSON.parse(await fs.readFile(requestFile, 'utf8')) as ChildRequest;
  const staging = `${request.prefix}.staging`;
  const started = process.hrtime.bigint();
  const cpu = process.cpuUsage();
  const logger = process.env.BENCH_VERBOSE ? new ConsoleLogger(true) : new MemoryLogger();
  const memory = process.env.BENCH_VERBOSE ? sampleMemory() : undefined;
  await new BuiltinInstaller().install({ packages: request.packages, prefix: request.prefix, stagingDir: staging, pkgCache: request.cache, logger });
  await fs.rename(staging, request.prefix);
  memory?.stop();
  if (process.env.BENCH_VERBOSE) process.stderr.write(`debug: installer stage CPU by thread (ms): ${await cpuByThread()}\n`);
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const used = process.cpuUsage(cpu);
  const cpuSeconds = (used.user + used.system) / 1e6;
  process.stdout.write(JSON.stringify({ seconds, cpuSeconds, maxRssKb: await peakRssKb() }) + '\n');
}

/**
 * BENCH_VERBOSE: the main thread's memory sampled every 5 ms; the largest of each figure (MB) on
 * stderr when stopped, with the RSS each was seen at.
 */
function sampleMemory(): { stop: () => void } {
  const peak: Record<string, number> = {};
  const timer = setInterval(() => {
    const m = process.memoryUsage();
    for (const [k, v] of Object.entries(m)) peak[k] = Math.max(peak[k] ?? 0, v);
    const status = readFileSync('/proc/self/status', 'utf8');
    for (const key of ['RssAnon', 'RssFile', 'RssShmem']) {
      const kb = new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status);
      if (kb) peak[key] = Math.max(peak[key] ?? 0, Number(kb[1]) * 1024);
    }
  }, 5);
  return {
    stop: () => {
      clearInterval(timer);
      const mb = Object.entries(peak).map(([k, v]) => `${k} ${(v / 1048576).toFixed(0)}`);
      process.stderr.write(`debug: installer stage memory peaks (MB): ${mb.join(', ')}\n`);
    },
  };
}

/**
 * BENCH_VERBOSE: user + system CPU time of each of this process's threads so far, summed by thread
 * name (/proc/self/task/<tid>/stat; the main thread is `node`, the extraction threads and V8's own
 * show under the names Node gives them, libuv's pool as `libuv-worker`).
 */
async function cpuByThread(): Promise<string> {
  const tick = 100; // USER_HZ on Linux
  const byName = new Map<string, number>();
  for (const tid of await fs.readdir('/proc/self/task').catch(() => [] as string[])) {
    const stat = await fs.readFile(`/proc/self/task/${tid}/stat`, 'utf8').catch(() => '');
    const m = /^\d+ \((.*)\) (.*)$/s.exec(stat.trim());
    if (!m) continue;
    const fields = m[2].split(' ');
    const ms = ((Number(fields[11]) + Number(fields[12])) * 1000) / tick;
    byName.set(m[1], (byName.get(m[1]) ?? 0) + ms);
  }
  return [...byName]
    .sort((a, b) => b[1] - a[1])
    .map(([name, ms]) => `${name} ${ms.toFixed(0)}`)
    .join(', ');
}

/**
 * This process's own peak RSS: VmHWM (getrusage's maxrss survives exec, so a child of a large
 * parent would report the parent's peak when it is higher than its own).
 */
async function peakRssKb(): Promise<number> {
  const status = await fs.readFile('/proc/self/status', 'utf8').catch(() => '');
  const hwm = /^VmHWM:\s+(\d+) kB/m.exec(status);
  return hwm ? Number(hwm[1]) : process.resourceUsage().maxRSS;
}

// The installer's threads load this same bundle: they serve extractions instead.
if (inExtractWorker()) serveExtractions();
else await child(process.argv[2]);
