/**
 * Repodata pruned to what a solve can reach. The WASM solver parses every record it is given, on
 * every solve; for a large channel that is most of the time spent. The records a solve can ever
 * use are those whose names are reachable from the specs through the dependencies of any record
 * of a reachable name (constrains never pull a package in), so the rest is left out: the same
 * solution, from a fraction of the records. This is what rattler's sharded repodata does natively.
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { specName } from '../conda/types.js';
import { isVirtualPackage } from '../conda/virtual-packages.js';
import { scanRepodata, STRIDE, type Table } from './repodata-scan.js';
import { joinPieces } from './zstd-stored.js';

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

/** Records of a name read from a body on disk in one read when no more than this apart. */
const SPAN_GAP = 64 * 1024;

/** Closes the file of a body on disk whose ParsedRepodata was never closed. */
const openBodies = new FinalizationRegistry<number>((fd) => fs.close(fd, () => undefined));

/**
 * Where the body of a repodata.json is read from: memory, or (`spill`) a file of its own that
 * nobody else can see (opened, then unlinked: the system frees it when this process ends, however it ends).
 */
class BodySource {
  private memory?: Buffer;
  private fd?: number;
  /** Resolves once the body is on disk (true) or is to stay in memory (false). */
  spilled: Promise<boolean> = Promise.resolve(false);

  constructor(body: Buffer) {
    this.memory = body;
  }

  /** The bytes from `start` to `end` (a view of the body in memory, or read from the file). */
  read(start: number, end: number): Buffer {
    if (this.memory) return this.memory.subarray(start, end);
    if (this.fd === undefined) throw new Error('the repodata was closed');
    const out = Buffer.allocUnsafe(end - start);
    for (let done = 0; done < out.length;) {
      const n = fs.readSync(this.fd, out, done, out.length - done, start + done);
      if (n === 0) throw new Error(`the repodata kept on disk ends at byte ${start + done}, before ${end}`);
      done += n;
    }
    return out;
  }

  /**
   * Writes the body to a new file in `dir`, then reads from that file and lets the memory go: at
   * once when the caller `owns` the body's buffer (nothing else reads it: it is detached, its
   * memory freed without waiting for a garbage collection), else when nothing refers to it.
   */
  spill(dir: string, owner: object, owns: boolean): Promise<boolean> {
    const body = this.memory;
    if (!body) return this.spilled;
    this.spilled = (async () => {
      const file = path.join(dir, `gitenv-repodata-${process.pid}-${randomBytes(8).toString('hex')}.json`);
      let fd: number | undefined;
      let linked = false;
      try {
        // A new file only (never one that is there, nor a link to one), readable by this user only.
        fd = await promisify(fs.open)(file, 'wx+', 0o600);
        linked = true;
        await promisify(fs.unlink)(file);
        linked = false;
        for (let done = 0; done < body.length;) done += (await promisify(fs.write)(fd, body, done, body.length - done, done)).bytesWritten;
      } catch {
        if (fd !== undefined) fs.close(fd, () => undefined);
        if (linked) fs.unlink(file, () => undefined);
        return false; // no room on disk, no such directory: the body stays in memory
      }
      if (this.memory !== body) {
        fs.close(fd, () => undefined); // closed meanwhile
        return false;
      }
      this.fd = fd;
      openBodies.register(owner, fd, owner);
      this.memory = undefined;
      const buffer = body.buffer as ArrayBuffer & { transfer?: (length: number) => ArrayBuffer };
      // Not a slice of Node's shared pool (those are small), and transfer() is there (Node >= 21).
      if (owns && body.length > Buffer.poolSize && typeof buffer.transfer === 'function') buffer.transfer(0);
      return true;
    })();
    return this.spilled;
  }

  close(owner: object): void {
    this.memory = undefined;
    if (this.fd === undefined) return;
    openBodies.unregister(owner);
    fs.close(this.fd, () => undefined);
    this.fd = undefined;
  }
}

/**
 * A record as kept: only the fields the solver reads (SOLVER_FIELDS), the strings that repeat from
 * record to record (names, versions, dependencies) shared; `record(fn)` reads a whole one again.
 */
function lean(full: RepodataRecordJson, intern: (s: string) => string): RepodataRecordJson {
  const share = (value: unknown): unknown => (typeof value === 'string' ? intern(value) : Array.isArray(value) ? value.map((v: unknown) => (typeof v === 'string' ? intern(v) : v)) : value);
  // Every field, in SOLVER_FIELDS' order, present or not: one shape for all records, each field in the object itself.
  return {
    name: share(full.name),
    version: share(full.version),
    build: full.build,
    build_number: full.build_number,
    depends: share(full.depends),
    constrains: share(full.constrains),
    track_features: share(full.track_features),
    features: share(full.features),
    timestamp: full.timestamp,
    noarch: share(full.noarch),
    subdir: share((full as { subdir?: unknown }).subdir),
  } as RepodataRecordJson;
}

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
  /** From a body: the fields the solver reads (`ParsedRepodata.record` gives the whole record). */
  record: RepodataRecordJson;
  json?: string;
  /** Where its offsets are in its name's list (records read from a body). */
  at?: number;
}

export interface ParseOptions {
  /**
   * A directory where a body of at least `spillBytes` is written (a file nobody else sees, gone
   * when the process ends) and read from from then on, instead of being kept in memory.
   */
  spillDir?: string;
  spillBytes?: number;
  /** The body's buffer is the caller's to give up (nothing else reads it): freed as soon as it is on disk. */
  owned?: boolean;
}

/**
 * One subdir's repodata, indexed by package name. The body's bytes are scanned once
 * (repodata-scan.ts) and kept, in memory or (ParseOptions.spillDir) in a file of their own; a
 * name's records are parsed from their own bytes the first time the name is asked for, keeping the
 * fields the solver reads, so a channel of hundreds of megabytes costs a small index and the
 * records the solves reach, not a heap of objects for records no solve reaches.
 */
export class ParsedRepodata {
  private readonly body: BodySource;
  /** Offsets of each name's records (repodata-scan.ts, STRIDE numbers per record). */
  private readonly offsets: Map<string, number[]>;
  private readonly meta: Record<string, unknown>;
  /** Parsed records by name: kept for the run (callers key their own caches by these objects). */
  private readonly byName = new Map<string, RepodataEntry[]>();
  private readonly depNames = new Map<string, Set<string>>();
  private readonly ties = new Map<string, Map<string, number>>();
  /** The strings of the records read so far, each kept once. */
  private readonly strings = new Map<string, string>();

  /**
   * `source`: the body of a repodata.json (scanned, its records parsed when reached), or a repodata
   * object already in memory (the records of the shards a solve reached, shard-loader.ts; tests).
   */
  /** Records hold the solver's fields only (shard-loader.ts read them so): serialized as they are. */
  private readonly solverFieldsOnly: boolean;

  constructor(source: Uint8Array | RepodataJson, options: { solverFieldsOnly?: boolean } = {}) {
    // Records read from a body are lean (only SOLVER_FIELDS, in their order): as fast to serialize.
    this.solverFieldsOnly = options.solverFieldsOnly === true || source instanceof Uint8Array;
    if (source instanceof Uint8Array) {
      const body = Buffer.isBuffer(source) ? source : Buffer.from(source.buffer, source.byteOffset, source.byteLength);
      const { byName, meta } = scanRepodata(body);
      this.body = new BodySource(body);
      this.offsets = byName;
      this.meta = meta;
      return;
    }
    this.body = new BodySource(Buffer.alloc(0));
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
    const list: RepodataEntry[] = [];
    const seen = new Map<string, number>();
    const intern = (text: string): string => {
      const known = this.strings.get(text);
      if (known !== undefined) return known;
      this.strings.set(text, text);
      return text;
    };
    // Records near each other are read together (a body on disk: one read, not one per record).
    for (let first = 0; first < at.length;) {
      let last = first;
      while (last + STRIDE < at.length && at[last + STRIDE + 1] >= at[last + 4] && at[last + STRIDE + 1] - at[last + 4] <= SPAN_GAP) last += STRIDE;
      const base = at[first + 1];
      const span = this.body.read(base, at[last + 4]);
      for (let i = first; i <= last; i += STRIDE) {
        const table = TABLES[at[i]];
        const fn = JSON.parse(span.toString('utf8', at[i + 1] - base, at[i + 2] - base)) as string;
        const full = JSON.parse(span.toString('utf8', at[i + 3] - base, at[i + 4] - base)) as RepodataRecordJson;
        const entry: RepodataEntry = { table, fn, record: lean(full, intern), json: undefined, at: i };
        // A file listed twice in a table: the last record wins, as with JSON.parse.
        const key = `${table}\0${fn}`;
        const dup = seen.get(key);
        if (dup === undefined) seen.set(key, list.push(entry) - 1);
        else list[dup] = entry;
      }
      first = last + STRIDE;
    }
    this.byName.set(name, list);
    return list;
  }

  /**
   * Parses a repodata.json body (RepodataSyntaxError when it is not JSON). With `spillDir`, a
   * large body is moved to disk in the background (`spilled` says when): a conda-forge-sized one
   * is 300 MB, which the run would otherwise hold in memory to its end.
   */
  static parse(body: Uint8Array, options: ParseOptions = {}): ParsedRepodata {
    const parsed = new ParsedRepodata(body);
    if (options.spillDir !== undefined && body.length >= (options.spillBytes ?? 0)) void parsed.body.spill(options.spillDir, parsed, options.owned === true);
    return parsed;
  }

  /** Resolves once the body is on disk (true) or is to stay in memory (false). */
  get spilled(): Promise<boolean> {
    return this.body.spilled;
  }

  /** Lets the body go (and its file): no more names can be read. */
  close(): void {
    this.body.close(this);
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

  /** The full record of a file, if this subdir has it (read again from the body: entries keep only what the solver reads). */
  record(fn: string): RepodataRecordJson | undefined {
    // A file is named <name>-<version>-<build>.<ext>: its name is one of the prefixes before a dash.
    let found: RepodataEntry | undefined;
    let name = '';
    for (let dash = fn.indexOf('-'); dash > 0 && !found; dash = fn.indexOf('-', dash + 1)) {
      name = fn.slice(0, dash).toLowerCase();
      if (this.offsets.has(name)) found = this.pick(this.entries(name).filter((e) => e.fn === fn));
    }
    if (!found) {
      found = this.pick(this.filesByName(fn));
      name = found ? String(found.record.name).toLowerCase() : '';
    }
    if (!found || found.at === undefined) return found?.record;
    const at = this.offsets.get(name) as number[];
    return JSON.parse(this.body.read(at[found.at + 3], at[found.at + 4]).toString('utf8')) as RepodataRecordJson;
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
  pruned(
    names: Set<string>,
    rewrite?: (record: RepodataRecordJson, fn: string) => Partial<RepodataRecordJson> | undefined,
    keep?: (record: RepodataRecordJson, fn: string) => boolean,
    options: { zstd?: boolean } = {},
  ): Uint8Array {
    const parts: Record<Table, string[]> = { packages: [], 'packages.conda': [] };
    for (const name of names) {
      for (const entry of this.entries(name)) {
        if (keep && !keep(entry.record, entry.fn)) continue;
        const changes = rewrite?.(entry.record, entry.fn);
        parts[entry.table].push(changes ? `${JSON.stringify(entry.fn)}:${JSON.stringify({ ...entry.record, ...changes }, SOLVER_FIELDS)}` : this.fragment(entry));
      }
    }
    const meta = JSON.stringify({ info: this.meta.info, repodata_version: this.meta.repodata_version }).slice(1, -1);
    // Written straight into one buffer of its own (the solver thread is handed it, not a copy).
    const pieces = [`{${meta}${meta ? ',' : ''}"packages":{`];
    const table = (list: string[]): void => {
      for (let i = 0; i < list.length; i++) {
        if (i > 0) pieces.push(',');
        pieces.push(list[i]);
      }
    };
    table(parts.packages);
    pieces.push('},"packages.conda":{');
    table(parts['packages.conda']);
    pieces.push('}}');
    return joinPieces(pieces, options.zstd === true);
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
