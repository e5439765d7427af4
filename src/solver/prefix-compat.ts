/**
 * Prefix matching on letter-suffixed versions, as rattler ≥ 0.28 and conda do it: `1.1.1.*`
 * matches `1.1.1w`, `1.0.2*` matches `1.0.2l`, `=2.0` matches `2.0a1` (the last segment of the
 * prefix only has to start the version's segment: `[1]` starts `[1, "w"]`). The WASM solver of
 * @conda-org/rattler 0.3.5 predates that (rattler pull request #1920) and finds no candidate.
 *
 * gitenv hands it the same question in a form it answers right: each prefix term of a version spec
 * is widened with the exact versions (`==1.1.1w`) of the channels' records that the newer rule
 * matches and the old one does not (negations likewise: `!=1.1.1.*` gains `,!=1.1.1w`). Only
 * versions present in the repodata of the solve are ever listed, so the answer is exact for that
 * repodata. Applied to env.spec's specs and to the dependencies of the records the solver is served.
 */
import { Version, VersionSpec } from '@conda-org/rattler';

interface ParsedVersion {
  epoch: number;
  segments: (number | string)[][];
}

function parseVersion(text: string): ParsedVersion | undefined {
  let s = text.trim().toLowerCase();
  const plus = s.indexOf('+');
  if (plus >= 0) s = s.slice(0, plus);
  let epoch = 0;
  const bang = s.indexOf('!');
  if (bang >= 0) {
    epoch = Number(s.slice(0, bang));
    s = s.slice(bang + 1);
  }
  if (!s || !Number.isFinite(epoch) || /[^a-z0-9._-]/.test(s)) return undefined;
  const segments = s.split(/[._-]/).map((seg) => {
    const parts: (number | string)[] = (seg.match(/\d+|[a-z]+/g) ?? []).map((p) => (/^\d/.test(p) ? Number(p) : p));
    if (parts.length === 0 || typeof parts[0] === 'string') parts.unshift(0);
    return parts;
  });
  return { epoch, segments };
}

const sameSegment = (a: readonly (number | string)[], b: readonly (number | string)[]): boolean => a.length === b.length && a.every((c, i) => c === b[i]);

/** The newer rule: `prefix.*` matches `version`. */
export function prefixMatches(prefix: string, version: string): boolean {
  const p = parseVersion(prefix);
  const v = parseVersion(version);
  if (!p || !v || p.epoch !== v.epoch) return false;
  const n = p.segments.length;
  for (let i = 0; i < n - 1; i++) if (!sameSegment(p.segments[i], v.segments[i] ?? [0])) return false;
  const last = p.segments[n - 1];
  const theirs = v.segments[n - 1] ?? [0];
  return theirs.length >= last.length && last.every((c, i) => c === theirs[i]);
}

/** A prefix term of a version spec: `1.2.*`, `1.2*`, `=1.2`, `!=1.2.*`. */
function prefixTerm(term: string): { prefix: string; negated: boolean } | undefined {
  const t = term.trim();
  let negated = false;
  let body: string;
  if (t.startsWith('!=')) {
    negated = true;
    body = t.slice(2);
    if (!body.endsWith('*')) return undefined;
  } else if (t.startsWith('=') && !t.startsWith('==')) {
    body = t.slice(1);
  } else if (/^[<>~=!]/.test(t)) {
    return undefined;
  } else {
    body = t;
    if (!body.endsWith('*')) return undefined;
  }
  const prefix = body.replace(/\.?\*$/, '');
  if (!prefix || prefix.includes('*') || !/[0-9]/.test(prefix)) return undefined;
  return { prefix, negated };
}

/** Finds, per name and prefix, the versions the newer rule adds (cached for one solve). */
export class PrefixWidener {
  private readonly extras = new Map<string, string[]>();

  /** `versionsOf(name)`: every version of `name` in the repodata of the solve. */
  constructor(private readonly versionsOf: (name: string) => Iterable<string>) {}

  private extraVersions(name: string, prefix: string): string[] {
    const key = `${name}\0${prefix}`;
    let found = this.extras.get(key);
    if (found) return found;
    found = [];
    let old: VersionSpec | undefined;
    try {
      for (const v of new Set(this.versionsOf(name))) {
        if (!/[a-z]/i.test(v) || !prefixMatches(prefix, v)) continue;
        old ??= new VersionSpec(`${prefix}.*`, 'lenient');
        const ver = new Version(v);
        try {
          if (!old.matches(ver)) found.push(v);
        } finally {
          ver.free();
        }
      }
    } catch {
      found = []; // a version the WASM side cannot parse: leave the spec to it as written
    } finally {
      old?.free();
    }
    found.sort();
    this.extras.set(key, found);
    return found;
  }

  /** A version spec of `name` widened; the same string when nothing changes. */
  widenVersion(name: string, version: string): string {
    if (/[()]/.test(version) || (!version.includes('*') && !/(^|[,|])=[^=]/.test(version))) return version;
    let changed = false;
    const clauses: string[][] = [];
    for (const clause of version.split('|')) {
      let terms = clause.split(',');
      // Negations first: every variant of the clause keeps them.
      for (const t of [...terms]) {
        const term = prefixTerm(t);
        if (!term?.negated) continue;
        const extra = this.extraVersions(name, term.prefix);
        if (extra.length > 0) {
          terms = [...terms, ...extra.map((e) => `!=${e}`)];
          changed = true;
        }
      }
      let variants = [terms];
      terms.forEach((t, i) => {
        const term = prefixTerm(t);
        if (!term || term.negated) return;
        const extra = this.extraVersions(name, term.prefix);
        if (extra.length === 0) return;
        changed = true;
        variants = [...variants, ...variants.flatMap((v) => extra.map((e) => v.map((u, j) => (j === i ? `==${e}` : u))))];
      });
      clauses.push(...variants);
    }
    return changed ? clauses.map((c) => c.join(',')).join('|') : version;
  }

  private readonly specs = new Map<string, string>();

  /** A match spec (`name version [build]`, `name=version=build`, `name>=1`) widened; the same string when nothing changes. */
  widenSpec(spec: string): string {
    let out = this.specs.get(spec);
    if (out === undefined) this.specs.set(spec, (out = this.widen(spec)));
    return out;
  }

  private widen(spec: string): string {
    if (!spec.includes('*') && !/[^=!<>~]=[^=]/.test(spec)) return spec;
    if (spec.includes('[')) return spec; // the bracket form: left as it is
    const colons = spec.lastIndexOf('::');
    const channel = colons >= 0 ? spec.slice(0, colons + 2) : '';
    const text = spec.slice(channel.length);
    const normal = text
      .trim()
      .replace(/\s*([,|])\s*/g, '$1')
      .replace(/([<>=!~]=?)\s+/g, '$1');
    const tokens = normal.split(/\s+/).filter(Boolean);
    const first = tokens[0] ?? '';
    const op = first.search(/[<>=!~]/);
    const name = (op >= 0 ? first.slice(0, op) : first).toLowerCase();
    let version: string | undefined;
    let build: string | undefined;
    if (op >= 0) {
      const attached = first.slice(op);
      if (attached.startsWith('=') && !attached.startsWith('==') && !attached.includes(',') && !attached.includes('|')) {
        const [v, b, extra] = attached.slice(1).split('=');
        if (extra !== undefined) return spec;
        version = `=${v}`;
        build = b ?? tokens[1];
      } else {
        version = attached;
        build = tokens[1];
      }
      if (tokens.length > 2) return spec;
    } else {
      if (tokens.length > 3) return spec;
      version = tokens[1];
      build = tokens[2];
    }
    if (!version || !name) return spec;
    const widened = this.widenVersion(name, version);
    if (widened === version) return spec;
    // `=1.2` is `1.2.*`: written that way, the widened spec reads the same in the space-separated form.
    const out = widened.replace(/(^|[,|])=([^=,|]+)/g, (_m, sep: string, v: string) => `${sep}${v.replace(/\.?\*$/, '')}.*`);
    const written = op >= 0 ? first.slice(0, op) : first;
    return `${channel}${written} ${out}${build ? ` ${build}` : ''}`;
  }
}
