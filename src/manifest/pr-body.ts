/**
 * The readable diff of a manifest update, for a pull request's body and the check-mode comment:
 * packages added, removed, upgraded, downgraded (conda version ordering), rebuilt (same version,
 * other build) and moved to another channel; the download size; the env.spec diff.
 */
import { Version } from '@conda-org/rattler';
import { code, raw, table } from '../summary/markdown.js';
import type { ManifestEntry } from './manifest.js';

/** One package present before and after, with something different. */
export interface EntryPair {
  before: ManifestEntry;
  after: ManifestEntry;
}

export interface ClassifiedChanges {
  added: ManifestEntry[];
  removed: ManifestEntry[];
  upgraded: EntryPair[];
  downgraded: EntryPair[];
  /** Same version by conda ordering, another build string. */
  rebuilt: EntryPair[];
  /** Same version and build from another channel or subdir. */
  moved: EntryPair[];
}

/** Download sizes in bytes, keyed by `entryKey` (what is unknown is left out). */
export type SizeMap = ReadonlyMap<string, number>;

export interface ManifestChangeInput {
  env: string;
  before: readonly ManifestEntry[];
  after: readonly ManifestEntry[];
  /** Sizes of packages on either side (the same package has the same key on both). */
  sizes: SizeMap;
  /** env.spec of the current manifest (undefined: none yet). */
  specBefore?: string;
  specAfter: string;
}

/** Identifies one package file: the channel, subdir and dist name. */
export const entryKey = (e: Pick<ManifestEntry, 'channel' | 'subdir' | 'dist'>): string => `${e.channel}/${e.subdir}/${e.dist}`;

const whereOf = (e: ManifestEntry): string => `${e.channel}/${e.subdir}`;

/**
 * Conda version ordering (1.10 > 1.9, 2.0.0rc1 < 2.0.0). A version rattler cannot read (none a
 * solver produced should be) falls back to string order so the diff still renders.
 */
export function compareVersions(a: string, b: string): number {
  try {
    return Math.sign(new Version(a).compare(new Version(b)));
  } catch {
    return a < b ? -1 : a > b ? 1 : 0;
  }
}

/** Sorts every changed package into one kind, by package name. */
export function classifyChanges(before: readonly ManifestEntry[], after: readonly ManifestEntry[]): ClassifiedChanges {
  const old = new Map(before.map((e) => [e.name.toLowerCase(), e]));
  const now = new Map(after.map((e) => [e.name.toLowerCase(), e]));
  const out: ClassifiedChanges = { added: [], removed: [], upgraded: [], downgraded: [], rebuilt: [], moved: [] };
  for (const key of [...new Set([...old.keys(), ...now.keys()])].sort()) {
    const a = old.get(key);
    const b = now.get(key);
    if (!b) out.removed.push(a as ManifestEntry);
    else if (!a) out.added.push(b);
    else {
      const order = compareVersions(a.version, b.version);
      const pair = { before: a, after: b };
      if (order < 0) out.upgraded.push(pair);
      else if (order > 0) out.downgraded.push(pair);
      else if (a.version !== b.version || a.build !== b.build) out.rebuilt.push(pair);
      else if (whereOf(a) !== whereOf(b)) out.moved.push(pair);
    }
  }
  return out;
}

/** `12.3 MB`, `-4.0 kB`, `512 B` (decimal units, as conda and GitHub show sizes). */
export function formatBytes(bytes: number, signed = false): string {
  const sign = bytes < 0 ? '-' : signed && bytes > 0 ? '+' : '';
  let n = Math.abs(bytes);
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let u = 0;
  while (n >= 1000 && u < units.length - 1) {
    n /= 1000;
    u++;
  }
  return `${sign}${u === 0 ? String(n) : n.toFixed(1)} ${units[u]}`;
}

export interface SizeSummary {
  /** Download size of the whole new environment; undefined when a size is missing. */
  total?: number;
  /** New total minus old total; undefined when a size on either side is missing. */
  change?: number;
  /** What a deployment has to fetch that the old environment did not have. */
  toDownload?: number;
  /** Packages whose size is not known. */
  unknown: string[];
}

export function summarizeSizes(input: Pick<ManifestChangeInput, 'before' | 'after' | 'sizes'>): SizeSummary {
  const unknown = new Set<string>();
  const sum = (entries: readonly ManifestEntry[]): number | undefined => {
    let total = 0;
    let complete = true;
    for (const e of entries) {
      const size = input.sizes.get(entryKey(e));
      if (size === undefined) {
        unknown.add(e.dist);
        complete = false;
      } else total += size;
    }
    return complete ? total : undefined;
  };
  const oldKeys = new Set(input.before.map(entryKey));
  const total = sum(input.after);
  const before = sum(input.before);
  const toDownload = sum(input.after.filter((e) => !oldKeys.has(entryKey(e))));
  return {
    total,
    change: total !== undefined && before !== undefined ? total - before : undefined,
    toDownload,
    unknown: [...unknown].sort(),
  };
}

const versionCell = (e: ManifestEntry, withWhere: boolean): string => `${code(e.version)} ${code(e.build)}${withWhere ? ` from ${code(whereOf(e))}` : ''}`;

function pairTable(pairs: EntryPair[]): string {
  return table(
    ['Package', 'Before', 'After'],
    pairs.map(({ before, after }) => {
      const moved = whereOf(before) !== whereOf(after);
      return [raw(code(after.name)), raw(versionCell(before, moved)), raw(versionCell(after, moved))];
    }),
  );
}

function entryTable(entries: ManifestEntry[]): string {
  return table(
    ['Package', 'Version', 'Build', 'Channel'],
    entries.map((e) => [raw(code(e.name)), raw(code(e.version)), raw(code(e.build)), raw(code(whereOf(e)))]),
  );
}

function movedTable(pairs: EntryPair[]): string {
  return table(
    ['Package', 'Version', 'Build', 'Before', 'After'],
    pairs.map(({ before, after }) => [raw(code(after.name)), raw(code(after.version)), raw(code(after.build)), raw(code(whereOf(before))), raw(code(whereOf(after)))]),
  );
}

function sizeSection(s: SizeSummary): string {
  const show = (n: number | undefined, signed = false): string => (n === undefined ? 'unknown' : formatBytes(n, signed));
  const rows = [
    ['Whole environment', show(s.total)],
    ['Change', show(s.change, true)],
    ['New downloads', show(s.toDownload)],
  ];
  let text = table(['Download size', ''], rows);
  if (s.unknown.length > 0) {
    const named = s.unknown.slice(0, 10).map(code).join(', ');
    text += `\nSize not known for ${named}${s.unknown.length > 10 ? ` and ${s.unknown.length - 10} more` : ''}.\n`;
  }
  return text;
}

/** A fence longer than any run of backticks in `text`, so nothing inside can close it. */
export function fenced(text: string, info = ''): string {
  const fence = '`'.repeat(Math.max(3, ...[...text.matchAll(/`+/g)].map((m) => m[0].length + 1)));
  return `${fence}${info}\n${text.endsWith('\n') ? text : text + '\n'}${fence}\n`;
}

/**
 * A line diff (longest common subsequence): `-`, `+` and ` ` lines. env.spec files are a few
 * dozen lines, so the quadratic table is no concern.
 */
export function lineDiff(before: string, after: string): string[] {
  const a = before === '' ? [] : before.replace(/\n$/, '').split('\n');
  const b = after === '' ? [] : after.replace(/\n$/, '').split('\n');
  const lcs: number[][] = Array.from({ length: a.length + 1 }, () => new Array<number>(b.length + 1).fill(0));
  for (let i = a.length - 1; i >= 0; i--) {
    for (let j = b.length - 1; j >= 0; j--) lcs[i][j] = a[i] === b[j] ? lcs[i + 1][j + 1] + 1 : Math.max(lcs[i + 1][j], lcs[i][j + 1]);
  }
  const out: string[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    if (i < a.length && j < b.length && a[i] === b[j]) {
      out.push(` ${a[i++]}`);
      j++;
    } else if (i < a.length && (j === b.length || lcs[i + 1][j] >= lcs[i][j + 1])) out.push(`-${a[i++]}`);
    else out.push(`+${b[j++]}`);
  }
  return out;
}

/** The env.spec part of a manifest update: its line diff, open when short. */
export function specChange(before: string | undefined, after: string): string {
  return specSection(before, after);
}

function specSection(before: string | undefined, after: string): string {
  if (before === after) return 'env.spec is unchanged.\n';
  const lines = lineDiff(before ?? '', after);
  return `<details${lines.length <= 40 ? ' open' : ''}><summary>env.spec</summary>\n\n${fenced(lines.join('\n'), 'diff')}\n</details>\n`;
}

/** One line saying how many packages changed in which way. */
export function changeCounts(c: ClassifiedChanges): string {
  const parts: [number, string][] = [
    [c.added.length, 'added'],
    [c.removed.length, 'removed'],
    [c.upgraded.length, 'upgraded'],
    [c.downgraded.length, 'downgraded'],
    [c.rebuilt.length, 'rebuilt'],
    [c.moved.length, 'moved to another channel'],
  ];
  const said = parts.filter(([n]) => n > 0).map(([n, what]) => `${n} ${what}`);
  return said.length > 0 ? said.join(', ') : 'no package changes (env.lock or env.spec updated)';
}

/**
 * GitHub refuses a pull request body or comment over 65,536 characters; the intro and marker
 * around this text need some room too.
 */
export const MAX_CHANGE_LENGTH = 60_000;

/**
 * The markdown of a manifest update: counts, one table per kind of change, sizes, env.spec diff.
 * Longer than `maxLength`, the package tables are left out (the commit message lists every change).
 */
export function renderManifestChange(input: ManifestChangeInput, maxLength = MAX_CHANGE_LENGTH, options: { spec?: boolean } = {}): string {
  const c = classifyChanges(input.before, input.after);
  const head = `${input.after.length} packages: ${changeCounts(c)}.\n`;
  const tail = [`#### Download size\n\n${sizeSection(summarizeSizes(input))}`];
  // Several platforms share one env.spec: its diff is shown once, after them (options.spec false).
  if (options.spec !== false) tail.push(`#### env.spec\n\n${specSection(input.specBefore, input.specAfter)}`);
  const tables: [string, EntryPair[] | ManifestEntry[], (x: never[]) => string][] = [
    ['Added', c.added, entryTable],
    ['Removed', c.removed, entryTable],
    ['Upgraded', c.upgraded, pairTable],
    ['Downgraded', c.downgraded, pairTable],
    ['Rebuilt (same version, other build)', c.rebuilt, pairTable],
    ['Moved to another channel', c.moved, movedTable],
  ];
  const parts = tables.filter(([, rows]) => rows.length > 0).map(([title, rows, render]) => `#### ${title}\n\n${render(rows as never[])}`);
  const full = [head, ...parts, ...tail].join('\n');
  if (full.length <= maxLength) return full;
  const note = '_The package tables are too long to show here; the commit message lists every change._\n';
  return [head, note, ...tail].join('\n');
}
