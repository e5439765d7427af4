/**
 * `npm run bench`: every benchmark, one after another, each in a process of its own so that one's
 * heap and caches do not colour the next. Figures are ratios against a baseline measured in the same
 * run (py-rattler, `cp -al`, the first run), never pass/fail timings.
 *
 *   npm run bench                 # resolve, fixed (one-environment resolve), platforms, cf-scale, install, deploy
 *   npm run bench -- install      # just one
 */
import { spawnSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const all = ['resolve', 'fixed', 'platforms', 'cf-scale', 'install', 'deploy'];
const chosen = process.argv.slice(2).filter((a) => all.includes(a));
let failed = 0;
console.log(
  `gitenv benchmarks on Node ${process.version}, ${os.cpus().length} cores, load average ${os
    .loadavg()
    .map((l) => l.toFixed(1))
    .join(' ')}`,
);
for (const name of chosen.length > 0 ? chosen : all) {
  console.log(`\n=== bench/${name}.ts`);
  const tsx = path.join(here, '..', 'node_modules', 'tsx', 'dist', 'cli.mjs');
  const r = spawnSync(process.execPath, [tsx, path.join(here, `${name}.ts`)], { stdio: 'inherit' });
  if (r.status !== 0) {
    failed++;
    console.log(`bench/${name}.ts exited with ${r.status ?? r.signal}`);
  }
}
process.exitCode = failed > 0 ? 1 : 0;
