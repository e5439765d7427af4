/**
 * What deploy did, per prefix and per environment, and the job summary made from it.
 */
import type { LinkChange } from './symlinks.js';
import type { PruneCandidate } from './prune.js';
import { formatBytes } from './prune.js';
import { code, codeBlock, raw, section, table, type Raw } from '../summary/markdown.js';

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
  /** What the installer wants read: clobbered paths, post-link scripts' messages. */
  notices?: string[];
}

export interface EnvOutcome {
  env: string;
  prefixes: PrefixOutcome[];
  /** Label changes made (or, in dry-run, planned). */
  links: LinkChange[];
  pruned: PruneCandidate[];
  /** Leftovers of killed runs removed. */
  leftovers: string[];
  /** Modulefiles written or removed (none when the modulefiles input is unset or nothing changed). */
  modulefiles?: string[];
  /** Set when the environment failed (an install, the lock); its labels were not moved to what failed. */
  error?: string;
}

/** The platform deployed when it is not this machine's (the explicit `platform` override). */
export interface ForeignPlatform {
  platform: string;
  /** This machine's platform; undefined when conda has none for it. */
  machine?: string;
}

/** The job summary: one row per (environment, label), then what prune freed. */
export function summaryMarkdown(outcomes: readonly EnvOutcome[], dryRun: boolean, foreign?: ForeignPlatform): string {
  const rows: (string | Raw)[][] = [];
  for (const o of outcomes) {
    for (const p of o.prefixes) {
      const size = p.sizeBytes === undefined ? '' : formatBytes(p.sizeBytes);
      const time = p.seconds === undefined ? '' : `${p.seconds.toFixed(1)} s`;
      // The whole reason, wrapped in its cell (cell() turns new lines into <br>), never cut to a line.
      const status = p.status === 'failed' && p.error ? `failed: ${p.error}` : p.status;
      for (const label of p.labels.length > 0 ? p.labels : ['']) rows.push([o.env, label, p.tag, raw(code(p.prefix)), status, size, time]);
    }
    if (o.error && o.prefixes.every((p) => p.status !== 'failed')) rows.push([o.env, '', '', '', `failed: ${o.error}`, '', '']);
  }
  let body = rows.length === 0 ? 'Nothing selected to deploy.\n' : table(['Environment', 'Label', 'Tag', 'Prefix', 'Status', 'Size', 'Time'], rows);
  body += failureDetails(outcomes);
  const modulefiles = outcomes.flatMap((o) => o.modulefiles ?? []);
  if (modulefiles.length > 0) body += `\n${dryRun ? 'Would update' : 'Updated'} ${modulefiles.length} modulefile(s): ${modulefiles.map((m) => code(m)).join(', ')}\n`;
  for (const o of outcomes) {
    for (const p of o.prefixes) {
      if (!p.notices?.length) continue;
      body += `\nNotes from installing ${o.env}/${p.deployedName}:\n\n${codeBlock(p.notices.join('\n'))}`;
    }
  }
  if (foreign) body = `${foreignPlatformNote(foreign)}\n\n${body}`;
  const pruned = outcomes.flatMap((o) => o.pruned.map((p) => ({ env: o.env, ...p })));
  if (pruned.length > 0) {
    const total = pruned.reduce((n, p) => n + p.bytes, 0);
    const names = pruned.map((p) => `${p.env}/${p.deployedName}`).join(', ');
    body += `\n${dryRun ? 'Would prune' : 'Pruned'} ${pruned.length} prefix(es), freeing ${formatBytes(total)}: ${names}\n`;
  }
  return section(`gitenv deploy${dryRun ? ' (dry run)' : ''}`, body);
}

/** Errors longer than a line (a smoke test's output, a post-link script's) in full, below the table. */
function failureDetails(outcomes: readonly EnvOutcome[]): string {
  let out = '';
  for (const o of outcomes) {
    for (const p of o.prefixes) {
      if (p.status !== 'failed' || !p.error?.includes('\n')) continue;
      const longest = Math.max(2, ...[...p.error.matchAll(/`+/g)].map((m) => m[0].length));
      const fence = '`'.repeat(longest + 1);
      out += `\n${o.env} ${p.tag} failed:\n\n${fence}text\n${p.error}\n${fence}\n`;
    }
  }
  return out;
}

/** Said in the log and the summary whenever another platform's locks are deployed. */
export function foreignPlatformNote(f: ForeignPlatform): string {
  return `Deploying the ${f.platform} locks on a ${f.machine ?? 'non-conda'} machine (explicit platform override): post-link scripts and smoke tests are not run.`;
}
