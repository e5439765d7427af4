/**
 * Repodata pruned to what a solve can reach. The WASM solver parses every record it is given, on
 * every solve; for a large channel that is most of the time spent. The records a solve can ever
 * use are those whose names are reachable from the specs through the dependencies of any record
 * of a reachable name (constrains never pull a package in), so the rest is left out: the same
 * solution, from a fraction of the records. This is what rattler's sharded repodata does natively.
 */
import { specName } from '../conda/types.js';
import { isVirtualPackage } from '../conda/virtual-packages.js';

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

type Table = 'packages' | 'packages.conda';

/**
 * The fields of a record the solver reads (rattler's candidate order: track_features, version,
 * build number, timestamp); the rest (hashes, size, license, run_exports, ...) is left out of what
 * it is served, and the records behind the answer are read from the full repodata here.
 */
const SOLVER_FIELDS = ['name', 'version', 'build', 'build_number', 'depends', 'constrains', 'track_features', 'features', 'timestamp', 'noarch', 'subdir'];
const TABLES: Table[] = ['packages', 'packages.conda'];

interface RepodataJson {
  info?: Record<string, unknown>;
  repodata_version?: number;
  packages?: Record<string, RepodataRecordJson>;
  'packages.conda'?: Record<string, RepodataRecordJson>;
}

/** One subdir's repodata, parsed once and indexed by package name. */
/** One record of a subdir's repodata, with the file name it is listed under. */
export interface RepodataEntry {
  table: Table;
  fn: string;
  record: RepodataRecordJson;
  json?: string;
}

export class ParsedRepodata {
  private readonly byName = new Map<string, RepodataEntry[]>();
  private readonly depNames = new Map<string, Set<string>>();
  private readonly ties = new Map<string, Map<string, number>>();

  constructor(readonly json: RepodataJson) {
    for (const table of TABLES) {
      for (const [fn, record] of Object.entries(json[table] ?? {})) {
        const name = String(record.name).toLowerCase();
        let list = this.byName.get(name);
        if (!list) this.byName.set(name, (list = []));
        list.push({ table, fn, record });
      }
    }
  }

  /** The package names of this subdir (lower case). */
  names(): IterableIterator<string> {
    return this.byName.keys();
  }

  /** The records of `name` (lower case), none when the subdir has no such package. */
  entries(name: string): readonly RepodataEntry[] {
    return this.byName.get(name) ?? [];
  }

  static parse(body: Uint8Array): ParsedRepodata {
    return new ParsedRepodata(JSON.parse(Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8')) as RepodataJson);
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
    return this.json['packages.conda']?.[fn] ?? this.json.packages?.[fn];
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
    const meta = JSON.stringify({ info: this.json.info, repodata_version: this.json.repodata_version }).slice(1, -1);
    return Buffer.from(`{${meta}${meta ? ',' : ''}"packages":{${parts.packages.join(',')}},"packages.conda":{${parts['packages.conda'].join(',')}}}`);
  }

  /** `"<fn>":{record}`, serialized once per run: the same names come back environment after environment. */
  private fragment(entry: { fn: string; record: RepodataRecordJson; json?: string }): string {
    entry.json ??= `${JSON.stringify(entry.fn)}:${JSON.stringify(entry.record, SOLVER_FIELDS)}`;
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
