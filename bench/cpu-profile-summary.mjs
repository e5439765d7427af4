#!/usr/bin/env node
/**
 * Where a `node --cpu-prof` profile spent its time: self time summed per function (and per file),
 * the largest first, with the share of the profile's samples spent idle (waiting on I/O or threads).
 *
 *   node bench/cpu-profile-summary.mjs <file.cpuprofile> [top=25]
 */
import fs from 'node:fs';

const [file, topArg] = process.argv.slice(2);
if (!file) {
  console.error('usage: node bench/cpu-profile-summary.mjs <file.cpuprofile> [top]');
  process.exit(2);
}
const top = Number(topArg ?? 25);
const profile = JSON.parse(fs.readFileSync(file, 'utf8'));
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const self = new Map();
const dt = profile.timeDeltas;
for (let i = 0; i < profile.samples.length; i++) {
  const id = profile.samples[i];
  self.set(id, (self.get(id) ?? 0) + (dt[i] ?? 0));
}
const total = [...self.values()].reduce((a, b) => a + b, 0);
const perFunction = new Map();
const perFile = new Map();
for (const [id, us] of self) {
  const { callFrame } = byId.get(id);
  const where = (callFrame.url || '(native)').replace(/^.*\/(node_modules|src)\//, '$1/');
  const fn = `${callFrame.functionName || '(anonymous)'}  ${where}:${callFrame.lineNumber + 1}`;
  perFunction.set(fn, (perFunction.get(fn) ?? 0) + us);
  perFile.set(where, (perFile.get(where) ?? 0) + us);
}
const show = (title, map) => {
  console.log(`\n${title}`);
  for (const [name, us] of [...map].sort((a, b) => b[1] - a[1]).slice(0, top)) {
    console.log(`${(us / 1000).toFixed(0).padStart(8)} ms ${((100 * us) / total).toFixed(1).padStart(5)} %  ${name}`);
  }
};
console.log(`${file}: ${(total / 1e6).toFixed(2)} s sampled`);
show('self time per function', perFunction);
show('self time per file', perFile);
