/**
 * Repodata pruned to what a solve can reach. The WASM solver parses every record it is given, on
 * every solve; for a large channel that is most of the time spent. The records a solve can ever
 * use are those whose names are reachable from the specs through the dependencies of any record
 * of a reachable name (constrains never pull a package in), so the rest is left out: the same
 * solution, from a fraction of the records. This is what rattler's sharded repodata does natively.
 */
import { specName } from '../conda/types.js';
import { isVirtualPackage } from '../conda/virtual-packages.js';
import { scanRepodata, STRIDE, type Table } from './repodata-scan.js';

export { RepodataSyntaxError } from './repodata-scan.js';

/** The fields of a repodata.json record gitenv reads. */
export interface RepodataRecordJson {
  name: string;
  version: string;
  build: string;
  build_number?: number;
  depends?: string[];
  constrains?: string[];
  license?: string;
  timestamp?: number;
  noarch?: string | boolean;
  features?: string;
  track_features?: string | string[];
  md5?: string;
  sha256?: string;
  size?: number;
}

/**
 * The fields of a record the solver reads (rattler's candidate order: track_features, version,
 * build number, timestamp); the rest (hashes, size, license, run_exports, ...) is left out of what
 * it is served, and the records behind the answer are read from the full repodata here.
 */
export const SOLVER_FIELDS = ['name', 'version', 'build', 'build_number', 'depends', 'constrains', 'track_features', 'features', 'timestamp', 'noarch', 'subdir'];
const TABLES: Table[] = ['packages', 'packages.conda'];

/** A repodata object; a table may be a Map by file name (shard-loader.ts builds them so, without an object of 200,000 keys). */
interface RepodataJson {
  info?: Record<string, unknown>;
  repodata_version?: number;
  packages?: Record<string, RepodataRecordJson> | Map<string, RepodataRecordJson>;
  'packages.conda'?: Record<string, RepodataRecordJson> | Map<string, RepodataRecordJson>;
}

/** One record of a subdir's repodata, with the file name it is listed under. */
export interface RepodataEntry {
  table: Table;
  fn: string;
  record: RepodataRecordJson;
  json?: string;
}

/**
 * One subdir's repodata, indexed by package name. The body's bytes are kept and scanned once
 * (repodata-scan.ts); a name's records are parsed from their own bytes the first time the name is
 * asked for, so a channel of hundreds of megabytes costs its bytes and a small index, not a heap of
 * objects for records no solve reaches.
 */
export class ParsedRepodata {
  private readonly body: Buffer;
  /** Offsets of each name's records (repodata-scan.ts, STRIDE numbers per record). */
  private readonly offsets: Map<string, number[]>;
  private readonly meta: Record<string, unknown>;
  /** Parsed records by name: kept for the run (callers key their own caches by these objects). */
  private readonly byName = new Map<string, RepodataEntry[]>();
  private readonly depNames = new Map<string, Set<string>>();
  private readonly ties = new Map<string, Map<string, number>>();

  /**
   * `source`: the body of a repodata.json (scanned, its records parsed when reached), or a repodata
   * object already in memory (the records of the shards a solve reached, shard-loader.ts; tests).
   */
  /** Records hold the solver's fields only (shard-loader.ts read them so): serialized as they are. */
  private readonly solverFieldsOnly: boolean;

  constructor(source: Uint8Array | RepodataJson, options: { solverFieldsOnly?: boolean } = {}) {
    this.solverFieldsOnly = options.solverFieldsOnly === true && !(source instanceof Uint8Array);
    if (source instanceof Uint8Array) {
      this.body = Buffer.isBuffer(source) ? source : Buffer.from(source.buffer, source.byteOffset, source.byteLength);
      const { byName, meta } = scanRepodata(this.body);
      this.offsets = byName;
      this.meta = meta;
      return;
    }
    this.body = Buffer.alloc(0);
    this.offsets = new Map();
    this.meta = { info: source.info, repodata_version: source.repodata_version };
    for (const table of TABLES) {
      const records = source[table] ?? {};
      for (const [fn, record] of records instanceof Map ? records : Object.entries(records)) {
        const name = String(record.name).toLowerCase();
        let list = this.byName.get(name);
        if (!list) {
          this.byName.set(name, (list = []));
          this.offsets.set(name, []);
        }
        list.push({ table, fn, record });
      }
    }
  }

  /** The package names of this subdir (lower case). */
  names(): IterableIterator<string> {
    return this.offsets.keys();
  }

  /**
   * The records of `name` (lower case), none when the subdir has no such package; parsed on first
   * use, then the same objects every time.
   */
  entries(name: string): readonly RepodataEntry[] {
    const known = this.byName.get(name);
    if (known) return known;
    const at = this.offsets.get(name);
    if (!at) return [];
    const body = this.body;
    const list: RepodataEntry[] = [];
    const seen = new Map<string, number>();
    for (let i = 0; i < at.length; i += STRIDE) {
      const table = TABLES[at[i]];
      const fn = JSON.parse(body.toString('utf8', at[i + 1], at[i + 2])) as string;
      const entry: RepodataEntry = { table, fn, record: JSON.parse(body.toString('utf8', at[i + 3], at[i + 4])) as RepodataRecordJson };
      // A file listed twice in a table: the last record wins, as with JSON.parse.
      const key = `${table}\0${fn}`;
      const dup = seen.get(key);
      if (dup === undefined) seen.set(key, list.push(entry) - 1);
      else list[dup] = entry;
    }
    this.byName.set(name, list);
    return list;
  }

  /** Parses a repodata.json body (RepodataSyntaxError when it is not JSON). */
  static parse(body: Uint8Array): ParsedRepodata {
    return new ParsedRepodata(body);
  }

  /** The names the records of `name` depend on (virtual packages left out). */
  dependencyNames(name: string): Set<string> {
    let names = this.depNames.get(name);
    if (!names) {
      names = new Set();
      for (const { record } of this.entries(name)) {
        for (const d of record.depends ?? []) {
          const n = specName(d);
          if (n && !isVirtualPackage(n)) names.add(n);
        }
      }
      this.depNames.set(name, names);
    }
    return names;
  }

  /**
   * New timestamps that make builds without features win their ties against builds with legacy
   * `features` (`numpy-1.7.1-py27_0` against `numpy-1.7.1-py27_p0`, features: mkl), as in conda:
   * same name, version and build number and the same timestamp (often none). Timestamps are the
   * solver's last tie-breaker, so only such a tie changes: a featured build with a newer timestamp
   * still wins, as it does in rattler.
   */
  tieBreaks(name: string): Map<string, number> {
    let out = this.ties.get(name);
    if (!out) {
      out = new Map();
      const groups = new Map<string, { fn: string; featured: boolean; ts: number | undefined }[]>();
      for (const { fn, record } of this.entries(name)) {
        const key = `${record.version}\0${record.build_number ?? 0}`;
        let group = groups.get(key);
        if (!group) groups.set(key, (group = []));
        const featured = typeof record.features === 'string' && record.features.trim() !== '';
        group.push({ fn, featured, ts: typeof record.timestamp === 'number' ? record.timestamp : undefined });
      }
      for (const group of groups.values()) {
        for (const plain of group) {
          if (plain.featured || !group.some((g) => g.featured && g.ts === plain.ts)) continue;
          const bumped = (plain.ts ?? 0) + 1;
          if (group.some((g) => g.ts === bumped)) continue; // would tie with another build instead
          out.set(plain.fn, bumped);
        }
      }
      this.ties.set(name, out);
    }
    return out;
  }

  /** The full record of a file, if this subdir has it. */
  record(fn: string): RepodataRecordJson | undefined {
    // A file is named <name>-<version>-<build>.<ext>: its name is one of the prefixes before a dash.
    let found: RepodataEntry | undefined;
    for (let dash = fn.indexOf('-'); dash > 0 && !found; dash = fn.indexOf('-', dash + 1)) {
      const name = fn.slice(0, dash).toLowerCase();
      if (this.offsets.has(name)) found = this.pick(this.entries(name).filter((e) => e.fn === fn));
    }
    return (found ?? this.pick(this.filesByName(fn)))?.record;
  }

  /** `packages.conda` first, as conda reads them. */
  private pick(entries: RepodataEntry[]): RepodataEntry | undefined {
    return entries.find((e) => e.table === 'packages.conda') ?? entries[0];
  }

  /** Every record listed under `fn`, looked for name by name (a file name of no convention: rare, and slow). */
  private filesByName(fn: string): RepodataEntry[] {
    for (const name of this.names()) {
      const found = this.entries(name).filter((e) => e.fn === fn);
      if (found.length > 0) return found;
    }
    return [];
  }

  /**
   * This repodata with only the records of `names`, as JSON bytes. `rewrite` may give a record
   * other dependencies for this solve (undefined: the record as it is); `keep` may leave out
   * records of those names (viable.ts).
   */
  pruned(names: Set<string>, rewrite?: (record: RepodataRecordJson, fn: string) => Partial<RepodataRecordJson> | undefined, keep?: (record: RepodataRecordJson, fn: string) => boolean): Uint8Array {
    const parts: Record<Table, string[]> = { packages: [], 'packages.conda': [] };
    for (const name of names) {
      for (const entry of this.entries(name)) {
        if (keep && !keep(entry.record, entry.fn)) continue;
        const changes = rewrite?.(entry.record, entry.fn);
        parts[entry.table].push(changes ? `${JSON.stringify(entry.fn)}:${JSON.stringify({ ...entry.record, ...changes }, SOLVER_FIELDS)}` : this.fragment(entry));
      }
    }
    const meta = JSON.stringify({ info: this.meta.info, repodata_version: this.meta.repodata_version }).slice(1, -1);
    return Buffer.from(`{${meta}${meta ? ',' : ''}"packages":{${parts.packages.join(',')}},"packages.conda":{${parts['packages.conda'].join(',')}}}`);
  }

  /** `"<fn>":{record}`, serialized once per run: the same names come back environment after environment. */
  private fragment(entry: { fn: string; record: RepodataRecordJson; json?: string }): string {
    // Without a replacer JSON.stringify takes its fast path; the fields are the same.
    entry.json ??= `${JSON.stringify(entry.fn)}:${this.solverFieldsOnly ? JSON.stringify(entry.record) : JSON.stringify(entry.record, SOLVER_FIELDS)}`;
    return entry.json;
  }
}

/**
 * The names reachable from `specs` over every repodata given, or undefined when a spec's name is
 * not a plain name (a glob): then nothing may be pruned.
 */
export function reachableNames(specs: readonly string[], repodata: readonly ParsedRepodata[]): Set<string> | undefined {
  const start = specs.map(specName);
  if (start.some((n) => n === '' || /[*?]/.test(n))) return undefined;
  const seen = new Set<string>();
  const queue = start.filter((n) => !isVirtualPackage(n));
  while (queue.length > 0) {
    const name = queue.pop() as string;
    if (seen.has(name)) continue;
    seen.add(name);
    for (const r of repodata) for (const dep of r.dependencyNames(name)) if (!seen.has(dep)) queue.push(dep);
  }
  return seen;
}
