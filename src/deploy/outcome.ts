/**
 * What deploy did, per prefix and per environment, and the job summary made from it.
 */
import type { LinkChange } from './symlinks.js';
import type { PruneCandidate } from './prune.js';
import { formatBytes } from './prune.js';

export type PrefixStatus = 'installed' | 'up to date' | 'failed' | 'would install';

export interface PrefixOutcome {
  env: string;
  tag: string;
  deployedName: string;
  prefix: string;
  /** Selected labels pointing to it. */
  labels: string[];
  status: PrefixStatus;
  sizeBytes?: number;
  /** Seconds the install took. */
  seconds?: number;
  error?: string;
}

export interface EnvOutcome {
  env: string;
  prefixes: PrefixOutcome[];
  /** Label changes made (or, in dry-run, planned). */
  links: LinkChange[];
  pruned: PruneCandidate[];
  /** Leftovers of killed runs removed. */
  leftovers: string[];
  /** Set when the environment failed (an install, the lock); its labels were not moved to what failed. */
  error?: string;
}

const esc = (s: string): string => s.replace(/\|/g, '\\|');

/** The job summary: one row per (environment, label), then what prune freed. */
export function summaryMarkdown(outcomes: readonly EnvOutcome[], dryRun: boolean): string {
  const lines = [`### gitenv deploy${dryRun ? ' (dry run)' : ''}`, ''];
  const rows: string[] = [];
  for (const o of outcomes) {
    for (const p of o.prefixes) {
      const size = p.sizeBytes === undefined ? '' : formatBytes(p.sizeBytes);
      const time = p.seconds === undefined ? '' : `${p.seconds.toFixed(1)} s`;
      const status = p.status === 'failed' && p.error ? `failed: ${p.error.split('\n')[0]}` : p.status;
      for (const label of p.labels.length > 0 ? p.labels : ['']) {
        rows.push(`| ${esc(o.env)} | ${esc(label)} | ${esc(p.tag)} | \`${esc(p.prefix)}\` | ${esc(status)} | ${size} | ${time} |`);
      }
    }
    if (o.error && o.prefixes.every((p) => p.status !== 'failed')) {
      rows.push(`| ${esc(o.env)} | | | | ${esc(`failed: ${o.error.split('\n')[0]}`)} | | |`);
    }
  }
  if (rows.length === 0) {
    lines.push('Nothing selected to deploy.');
  } else {
    lines.push('| environment | label | tag | prefix | status | size | time |', '| --- | --- | --- | --- | --- | --- | --- |', ...rows);
  }
  const pruned = outcomes.flatMap((o) => o.pruned.map((p) => ({ env: o.env, ...p })));
  if (pruned.length > 0) {
    const total = pruned.reduce((n, p) => n + p.bytes, 0);
    lines.push('', `${dryRun ? 'Would prune' : 'Pruned'} ${pruned.length} prefix(es), freeing ${formatBytes(total)}: ${pruned.map((p) => `${p.env}/${p.deployedName}`).join(', ')}`);
  }
  return lines.join('\n') + '\n';
}
