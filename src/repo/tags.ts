/**
 * The tag grammar: `env-<env>-<YYYY_MM_DD>[-N]`, parsed from the right (an environment name may
 * itself hold `-` and digits).
 * The part after the environment is the **deployed name** (the prefix directory's name).
 */

const TAG = /^env-(.+)-(\d{4}_\d{2}_\d{2}(?:-\d+)?)$/;
const DEPLOYED = /^(\d{4}_\d{2}_\d{2})(?:-(\d+))?$/;

export interface ParsedTag {
  env: string;
  /** `YYYY_MM_DD` or `YYYY_MM_DD-N`. */
  deployedName: string;
  /** `YYYY_MM_DD`. */
  date: string;
  /** The `-N` suffix; 0 when absent. */
  serial: number;
}

/** Parses a tag name, or returns undefined when it is not a gitenv tag. */
export function parseTag(tag: string): ParsedTag | undefined {
  const m = TAG.exec(tag);
  if (!m) return undefined;
  const d = DEPLOYED.exec(m[2]) as RegExpExecArray;
  return { env: m[1], deployedName: m[2], date: d[1], serial: d[2] === undefined ? 0 : Number(d[2]) };
}

/** `YYYY_MM_DD` of a moment, in UTC. */
export function tagDate(when: Date): string {
  const pad = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${pad(when.getUTCFullYear(), 4)}_${pad(when.getUTCMonth() + 1)}_${pad(when.getUTCDate())}`;
}

export function tagName(env: string, date: string, serial = 0): string {
  return serial === 0 ? `env-${env}-${date}` : `env-${env}-${date}-${serial}`;
}

/** The first free tag name for `env` on the UTC day of `when`: the plain name, then `-1`, `-2`, ... */
export function nextTagName(env: string, when: Date, exists: (name: string) => boolean): string {
  const date = tagDate(when);
  for (let serial = 0; ; serial++) {
    const name = tagName(env, date, serial);
    if (!exists(name)) return name;
  }
}

/**
 * Orders deployed names (or whole tags of one environment): by date, then by the numeric
 * serial (so `-10` comes after `-9`), then as plain strings for anything else.
 */
export function compareTagNames(a: string, b: string): number {
  const pa = parseTag(a) ?? deployedOnly(a);
  const pb = parseTag(b) ?? deployedOnly(b);
  if (pa && pb && pa.env === pb.env) {
    if (pa.date !== pb.date) return pa.date < pb.date ? -1 : 1;
    if (pa.serial !== pb.serial) return pa.serial - pb.serial;
  }
  return a < b ? -1 : a > b ? 1 : 0;
}

function deployedOnly(name: string): ParsedTag | undefined {
  const d = DEPLOYED.exec(name);
  return d ? { env: '', deployedName: name, date: d[1], serial: d[2] === undefined ? 0 : Number(d[2]) } : undefined;
}

/**
 * The one `latest` rule: the tag whose commit is newest by committer date, ties going to the greater
 * tag name (`compareTagNames`); a tag whose date is unknown counts as the oldest.
 */
export function latestOf<T>(tags: Iterable<T>, name: (t: T) => string, date: (t: T) => Date | undefined): T | undefined {
  let best: T | undefined;
  for (const t of tags) {
    if (best === undefined) {
      best = t;
      continue;
    }
    const a = date(t)?.getTime() ?? 0;
    const b = date(best)?.getTime() ?? 0;
    if (a > b || (a === b && compareTagNames(name(t), name(best)) > 0)) best = t;
  }
  return best;
}
