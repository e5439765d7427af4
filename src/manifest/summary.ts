/**
 * The job summary of resolve: one table row per environment (packages, added, removed, changed,
 * result) and each environment's full diff in a collapsed block.
 */
import { code, raw, section, table } from '../summary/markdown.js';
import { formatChange, type ManifestDiff } from './diff.js';

export interface SummaryOutcome {
  env: string;
  status: 'changed' | 'unchanged' | 'failed';
  packages?: number;
  diff?: ManifestDiff;
  error?: string;
  /** Each platform when there are several (one row and one diff group each). */
  platforms?: { platform: string; records: readonly unknown[]; diff: ManifestDiff; changed: boolean }[];
}

/** `check` reviews a pull request: nothing is ever pushed, so its verdict is about the manifest. */
export interface SummaryOptions {
  dryRun: boolean;
  check?: boolean;
}

function result(o: SummaryOutcome, options: SummaryOptions): string {
  if (o.status === 'failed') return 'failed';
  if (o.status === 'unchanged') return 'unchanged';
  if (options.check) return 'would change';
  return options.dryRun ? 'would push' : 'pushed';
}

/** A collapsed diff block; the text sits in a fenced block, so nothing in it renders as HTML. */
function details(o: SummaryOutcome): string {
  const several = (o.platforms?.length ?? 0) > 1 ? (o.platforms ?? []) : undefined;
  const lines = several ? several.filter((p) => p.diff.changes.length > 0).flatMap((p) => [`# ${p.platform}`, ...p.diff.changes.map(formatChange)]) : (o.diff?.changes.map(formatChange) ?? []);
  const body = lines.length > 0 ? lines.join('\n') : '(no package changes: env.lock or env.spec updated)';
  const fence = '`'.repeat(Math.max(3, ...[...body.matchAll(/`+/g)].map((m) => m[0].length + 1)));
  return `<details><summary>Changes to manifest/${o.env}</summary>\n\n${fence}diff\n${body}\n${fence}\n\n</details>\n`;
}

export function resolveSummary(outcomes: SummaryOutcome[], options: SummaryOptions): string {
  const title = `gitenv resolve${options.check ? ' (check)' : options.dryRun ? ' (dry run)' : ''}`;
  if (outcomes.length === 0) return section(title, 'No environments to resolve.');
  const rows = outcomes.flatMap((o) =>
    (o.platforms?.length ?? 0) > 1
      ? (o.platforms ?? []).map((p) => [
          raw(`${code(o.env)} (${code(p.platform)})`),
          p.records.length,
          p.diff.added,
          p.diff.removed,
          p.diff.changed,
          o.status === 'changed' && !p.changed ? 'unchanged' : result(o, options),
        ])
      : [[raw(code(o.env)), o.packages, o.diff?.added, o.diff?.removed, o.diff?.changed, result(o, options)]],
  );
  const parts = [table(['Environment', 'Packages', 'Added', 'Removed', 'Changed', 'Result'], rows)];
  for (const o of outcomes.filter((x) => x.status === 'changed')) parts.push(details(o));
  const failures = outcomes.filter((o) => o.status === 'failed');
  if (failures.length > 0) {
    parts.push('**Failed:**\n\n' + failures.map((o) => `- ${code(o.env)}:\n\n  ${fenced(o.error ?? 'failed')}`).join('\n') + '\n');
  }
  return section(title, parts.join('\n'));
}

function fenced(text: string): string {
  const fence = '`'.repeat(Math.max(3, ...[...text.matchAll(/`+/g)].map((m) => m[0].length + 1)));
  return `${fence}\n  ${text.split('\n').join('\n  ')}\n  ${fence}`;
}
