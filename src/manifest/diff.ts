/**
 * What changed between two manifests, by package name: the lines of a manifest commit message
 * (`+ name version build`, `- name version build`, `~ name old -> new`) and the summary's counts.
 */
import { parseManifest, type ManifestEntry } from './manifest.js';

export type ChangeKind = '+' | '-' | '~';

export interface PackageChange {
  kind: ChangeKind;
  name: string;
  /** `version build` before (`-`, `~`). */
  before?: string;
  /** `version build` after (`+`, `~`). */
  after?: string;
}

export interface ManifestDiff {
  changes: PackageChange[];
  added: number;
  removed: number;
  changed: number;
}

const label = (e: ManifestEntry): string => `${e.version} ${e.build}`;

/** The channel is part of the identity: the same build moved to another channel is a change. */
const where = (e: ManifestEntry): string => `${e.channel}/${e.subdir}`;

/** Compares two parsed manifests; changes come sorted by package name. */
export function diffEntries(before: readonly ManifestEntry[], after: readonly ManifestEntry[]): ManifestDiff {
  const old = new Map(before.map((e) => [e.name.toLowerCase(), e]));
  const now = new Map(after.map((e) => [e.name.toLowerCase(), e]));
  const names = [...new Set([...old.keys(), ...now.keys()])].sort();
  const changes: PackageChange[] = [];
  for (const key of names) {
    const a = old.get(key);
    const b = now.get(key);
    if (a && !b) changes.push({ kind: '-', name: a.name, before: label(a) });
    else if (!a && b) changes.push({ kind: '+', name: b.name, after: label(b) });
    else if (a && b && label(a) !== label(b)) changes.push({ kind: '~', name: b.name, before: label(a), after: label(b) });
    else if (a && b && where(a) !== where(b)) {
      changes.push({ kind: '~', name: b.name, before: `${label(a)} (${where(a)})`, after: `${label(b)} (${where(b)})` });
    }
  }
  const count = (k: ChangeKind): number => changes.filter((c) => c.kind === k).length;
  return { changes, added: count('+'), removed: count('-'), changed: count('~') };
}

/** Compares two env.manifest texts (either may be an old-format manifest, or absent). */
export function diffManifests(before: string | undefined, after: string): ManifestDiff {
  return diffEntries(before ? parseManifest(before) : [], parseManifest(after));
}

export function formatChange(c: PackageChange): string {
  if (c.kind === '+') return `+ ${c.name} ${c.after}`;
  if (c.kind === '-') return `- ${c.name} ${c.before}`;
  return `~ ${c.name} ${c.before} -> ${c.after}`;
}

/**
 * For an environment of several platforms: `Manifest update for <env>`, a blank line, then for
 * each platform that changed a `<platform>:` line followed by its changes.
 */
export function platformCommitMessage(env: string, diffs: readonly { platform: string; diff: ManifestDiff }[], note?: string): string {
  const lines = diffs.filter((d) => d.diff.changes.length > 0).flatMap((d) => [`${d.platform}:`, ...d.diff.changes.map(formatChange)]);
  if (note) lines.push(note);
  return lines.length > 0 ? `Manifest update for ${env}\n\n${lines.join('\n')}\n` : `Manifest update for ${env}\n`;
}

/** `Manifest update for <env>`, a blank line, then one line per change. */
export function commitMessage(env: string, diff: ManifestDiff, note?: string): string {
  const lines = diff.changes.map(formatChange);
  if (note) lines.push(note);
  return lines.length > 0 ? `Manifest update for ${env}\n\n${lines.join('\n')}\n` : `Manifest update for ${env}\n`;
}
