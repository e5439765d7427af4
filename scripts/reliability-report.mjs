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
  trust: 'Trust (where credentials go, what repodata may put into a manifest)',
  layout: 'Labels, names and paths',
};

const ABOUT = {
  crash:
    'A deploy (the CLI bundle, a child process) is SIGKILLed at exact file-system operations (tests/reliability/kill-hook.mjs, preloaded) over downloading, extracting, linking and relinking; after each kill every label must point at a complete prefix, no final name may lack its marker (unless marked incomplete: renamed into place, post-link scripts, smoke tests or marker not done; no label points there), the package cache must be complete or recognisably incomplete, and a re-run must leave exactly what an uninterrupted deploy leaves.',
  concurrency: 'Four deploys at once to one target, two resolves at once on one repository, two label commands at once on one branch: final states compared with serial runs, commits counted.',
  network:
    'Faults injected by the loopback channel server (5xx, 408, 429 with Retry-After, resets mid-body, truncated and corrupted bodies, 404, stalls past the idle timeout), basic auth demanded throughout.',
  hostile: 'Every case of tests/reliability/corpus/manifest.json through the phase that reads it, with a canary directory outside the target that must stay unchanged.',
  secrets:
    'api-user/api-key against a channel demanding basic auth and a token against a git smart-HTTP server demanding it; files, repository objects, temporary files, outputs and summaries searched for the secrets in plain, URL-encoded and base64 forms.',
  trust:
    'A channel demanding basic auth and a second host serving the same archives without it, recording every request: manifests (env.lock, an old-tool env.manifest) naming that host, a repodata info.base_url moving packages there, repodata records with a newline in a build and ../../etc as a subdir.',
  layout:
    'A directory at a label path, a label name too long for the file system, a 101-character label command, a 240-character environment name, relative targets (CLI and phase), links the site made beside the labels with prune --keep 0, and targets holding $(...), backticks or a double quote.',
};

const data = existsSync(json) ? JSON.parse(readFileSync(json, 'utf8')) : { sections: {} };
const sections = data.sections ?? {};
const order = [...Object.keys(TITLES).filter((k) => k in sections), ...Object.keys(sections).filter((k) => !(k in TITLES))];

const lines = [
  '# Reliability: figures of the last run',
  '',
  'Written by `npm run test:reliability` (`tests/reliability/`); regenerate this page from',
  '`docs/reliability.json` with `node scripts/reliability-report.mjs`. Every figure is counted by the',
  'tests themselves while they run, and only for checks that passed (a case that fails adds nothing',
  'but its "attempted" count, and fails the suite).',
  '',
  '| area | figure | count |',
  '| --- | --- | ---: |',
];
for (const key of order) {
  for (const [label, n] of Object.entries(sections[key].figures ?? {})) lines.push(`| ${key} | ${label} | ${n} |`);
}
for (const key of order) {
  const s = sections[key];
  lines.push('', `## ${TITLES[key] ?? key}`, '');
  if (ABOUT[key]) lines.push(ABOUT[key], '');
  lines.push(`Recorded ${s.recorded ?? 'at an unknown time'}.`);
  if (s.details?.length) {
    lines.push('');
    for (const d of s.details) lines.push(`- ${d}`);
  }
}
writeFileSync(md, lines.join('\n') + '\n');
