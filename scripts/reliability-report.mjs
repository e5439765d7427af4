// Writes docs/reliability.md from docs/reliability.json, the figures the reliability suite
// (npm run test:reliability) records at the end of each of its test files.
//   node scripts/reliability-report.mjs        rewrite docs/reliability.md
import { existsSync, readFileSync, writeFileSync } from 'node:fs';

const json = 'docs/reliability.json';
const md = 'docs/reliability.md';
const TITLES = {
  crash: 'Crashes (SIGKILL of a deploy at exact file-system operations)',
  concurrency: 'Concurrency (deploys, resolves and labels at once)',
  network: 'Network faults (loopback channel server)',
  hostile: 'Hostile inputs (tests/reliability/corpus)',
  secrets: 'Secrets (api-user/api-key and a git token)',
};

const data = existsSync(json) ? JSON.parse(readFileSync(json, 'utf8')) : { sections: {} };
const sections = data.sections ?? {};
const order = [...Object.keys(TITLES).filter((k) => k in sections), ...Object.keys(sections).filter((k) => !(k in TITLES))];

const lines = [
  '# Reliability: figures of the last run',
  '',
  'Written by `npm run test:reliability` (`tests/reliability/`); regenerate this page from',
  '`docs/reliability.json` with `node scripts/reliability-report.mjs`. Every figure is counted by the',
  'tests themselves while they run; a failing assertion fails the suite, so these are the figures of',
  'a run in which every check held.',
  '',
  '| area | figure | count |',
  '| --- | --- | ---: |',
];
for (const key of order) {
  for (const [label, n] of Object.entries(sections[key].figures ?? {})) lines.push(`| ${key} | ${label} | ${n} |`);
}
for (const key of order) {
  const s = sections[key];
  lines.push('', `## ${TITLES[key] ?? key}`, '', `Recorded ${s.recorded ?? 'at an unknown time'}.`);
  if (s.details?.length) {
    lines.push('');
    for (const d of s.details) lines.push(`- ${d}`);
  }
}
writeFileSync(md, lines.join('\n') + '\n');
