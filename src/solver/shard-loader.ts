/**
 * Sharded repodata (CEP-16) read on gitenv's side, so that a sharded channel gets what a parsed
 * one gets: only the records that can be installed, the exact rewrites of prefix matching,
 * conditions and featured ties (rattler-solver.ts). The index names one shard per package name;
 * the shards of the names the specs reach are fetched (through the fetch wrapper: checked against
 * their sha256 names, kept in the cache for good), breadth first, and their records become a
 * ParsedRepodata of those names only, served to the WASM solver as `repodata.json.zst`.
 */
import zlib from 'node:zlib';
import { Decompress } from 'fzstd';
import { MsgpackReader, type MsgpackValue } from './msgpack.js';
import { ParsedRepodata, type RepodataRecordJson } from './repodata-pruner.js';

/** The most an index or a shard may hold decompressed. */
const LIMIT = 512 * 1024 * 1024;

type ZstdSync = (buf: Uint8Array, options: { maxOutputLength: number }) => Buffer;

/**
 * A zstd body decompressed, or undefined when it is not zstd or would be larger than `limit` (a
 * hostile channel's zstd bomb). Indexes and shards often do not declare their size, so the limit
 * is enforced while decompressing: Node's own zstd stops at it; on Node 20, fzstd's stream is
 * dropped once past it.
 */
export function inflateBounded(body: Uint8Array, limit = LIMIT): Uint8Array | undefined {
  const native = (zlib as unknown as { zstdDecompressSync?: ZstdSync }).zstdDecompressSync;
  try {
    if (typeof native === 'function') return native(body, { maxOutputLength: limit });
    const chunks: Uint8Array[] = [];
    let total = 0;
    const stream = new Decompress((chunk) => {
      total += chunk.length;
      if (total <= limit) chunks.push(chunk);
    });
    stream.push(body, true);
    return total > limit ? undefined : Buffer.concat(chunks);
  } catch {
    return undefined;
  }
}

type MsgpackMap = { [key: string]: MsgpackValue };
const isMap = (v: MsgpackValue | undefined): v is MsgpackMap => !!v && typeof v === 'object' && !Array.isArray(v) && !(v instanceof Uint8Array);
const hex = (v: unknown): string | undefined => (v instanceof Uint8Array ? Buffer.from(v).toString('hex') : typeof v === 'string' ? v : undefined);

/** A sharded index: where each name's shard is, and the info a repodata.json made of them carries. */
export interface ShardIndex {
  subdir?: string;
  baseUrl?: string;
  /** Shard URL of each package name (lower case), relative to nothing: absolute. */
  shards: Map<string, string>;
}

/** Reads a `repodata_shards.msgpack.zst` served at `indexUrl`; undefined when it cannot be read (the solver then says why). */
export function readShardIndex(body: Uint8Array, indexUrl: string): ShardIndex | undefined {
  // Walked key by key: the shards map has one key per package name of the subdir (tens of
  // thousands), read into a Map with each hash straight as hex, never into an object.
  let info: MsgpackValue | undefined;
  let hashes: Map<string, MsgpackValue> | undefined;
  try {
    const raw = inflateBounded(body);
    if (!raw) return undefined;
    const reader = new MsgpackReader(raw);
    const n = reader.mapLength();
    if (n === undefined) return undefined;
    for (let i = 0; i < n; i++) {
      const key = reader.mapKey();
      if (key === 'info') info = reader.value(1);
      else if (key !== 'shards') reader.value(1);
      else {
        const m = reader.mapLength();
        if (m === undefined) {
          reader.value(1);
          hashes = undefined;
          continue;
        }
        hashes = new Map();
        for (let j = 0; j < m; j++) {
          const name = reader.mapKey(1);
          hashes.set(name, reader.hexOrValue(2));
        }
      }
    }
    reader.end();
  } catch {
    return undefined;
  }
  if (!hashes) return undefined;
  const meta = isMap(info) ? info : {};
  const shardsBase = typeof meta.shards_base_url === 'string' ? meta.shards_base_url : '';
  let base: URL;
  try {
    base = new URL(shardsBase.endsWith('/') || shardsBase === '' ? shardsBase : `${shardsBase}/`, indexUrl);
  } catch {
    return undefined;
  }
  // A file name of hex digits resolves against a base without query or fragment by appending it.
  const plain = base.search === '' && base.hash === '' && base.href.endsWith('/') ? base.href : undefined;
  const shards = new Map<string, string>();
  for (const [name, hash] of hashes) {
    const h = hex(hash);
    if (!h || !/^[0-9a-f]{64}$/.test(h)) return undefined;
    shards.set(name.toLowerCase(), plain !== undefined ? `${plain}${h}.msgpack.zst` : new URL(`${h}.msgpack.zst`, base).href);
  }
  return {
    subdir: typeof meta.subdir === 'string' ? meta.subdir : undefined,
    baseUrl: typeof meta.base_url === 'string' ? meta.base_url : undefined,
    shards,
  };
}

/** A shard record's hashes, binary in shards, as the hex strings repodata.json has. */
const HASHES: ReadonlySet<string> = new Set(['md5', 'sha256']);
const TABLES: ReadonlySet<string> = new Set(['packages', 'packages.conda']);

/** The records of one shard, by table and file name. */
export type ShardEntries = { table: 'packages' | 'packages.conda'; fn: string; record: RepodataRecordJson }[];

/**
 * The records of one shard by file name and table; undefined when it cannot be read. With `name`
 * (the package the index says the shard is for), records of any other package are left out: a
 * shard cannot slip in records of a name whose own shard was not read.
 *
 * The shard is read as decodeMsgpack would read it (a key met twice: the last value wins, in the
 * first one's place), walked table by table so that its thousands of file names never become the
 * keys of an object, and its hashes decoded straight into hex. With `only`, each record keeps only
 * those fields (the others are stepped over, never built; with `name`, `only` must hold `name`).
 */
export function readShard(body: Uint8Array, name?: string, options: { only?: ReadonlySet<string> } = {}): ShardEntries | undefined {
  const only = options.only;
  try {
    const raw = inflateBounded(body);
    if (!raw) return undefined;
    const reader = new MsgpackReader(raw, { hex: HASHES });
    const n = reader.mapLength();
    if (n === undefined) {
      reader.value(0);
      reader.end();
      return undefined; // not a map
    }
    const tables = new Map<'packages' | 'packages.conda', Map<string, MsgpackValue> | undefined>();
    for (let i = 0; i < n; i++) {
      const key = reader.mapKey();
      if (!TABLES.has(key)) {
        reader.value(1);
        continue;
      }
      const table = key as 'packages' | 'packages.conda';
      const m = reader.mapLength();
      if (m === undefined) {
        reader.value(1);
        tables.set(table, undefined);
        continue;
      }
      const records = new Map<string, MsgpackValue>();
      tables.set(table, records);
      for (let j = 0; j < m; j++) {
        const fn = reader.mapKey(1);
        records.set(fn, only ? reader.mapOf(only, 2) : reader.value(2));
      }
    }
    reader.end();
    const out: ShardEntries = [];
    for (const table of ['packages', 'packages.conda'] as const) {
      for (const [fn, record] of tables.get(table) ?? []) {
        if (!isMap(record)) continue;
        if (name !== undefined && (typeof record.name !== 'string' || record.name.toLowerCase() !== name)) continue;
        for (const k of HASHES) {
          if (!(k in record)) continue;
          const h = hex(record[k]);
          if (h === undefined) delete record[k];
          else record[k] = h;
        }
        out.push({ table, fn, record: record as unknown as RepodataRecordJson });
      }
    }
    return out;
  } catch {
    return undefined;
  }
}

/**
 * A ParsedRepodata of the given shards' records: what the solver is served for a sharded subdir.
 * `solverFieldsOnly`: the records were read with SOLVER_FIELDS only (`readShard`'s `only`).
 */
export function repodataOfShards(index: ShardIndex, shards: readonly ShardEntries[], options: { solverFieldsOnly?: boolean } = {}): ParsedRepodata {
  // A file in two shards: the last one read wins, as it would in one repodata.json object.
  const tables = { packages: new Map<string, RepodataRecordJson>(), 'packages.conda': new Map<string, RepodataRecordJson>() };
  for (const shard of shards) for (const { table, fn, record } of shard) tables[table].set(fn, record);
  const info: Record<string, string> = {};
  if (index.subdir) info.subdir = index.subdir;
  if (index.baseUrl) info.base_url = index.baseUrl;
  return new ParsedRepodata({ info, repodata_version: index.baseUrl ? 2 : 1, ...tables }, options);
}
