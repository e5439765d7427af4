/**
 * The records of the shards a solve fetched (CEP-16 sharded repodata), for the fields the solver
 * does not return (constrains, license, timestamp, noarch). A solve over a conda-forge-sized channel
 * fetches thousands of shards and returns a few hundred packages: shards are kept as fetched and
 * only those of the packages returned are decoded.
 */
import { readShard, readShardIndex } from './shard-loader.js';
import type { RepodataRecordJson } from './repodata-pruner.js';

/** A shard's bytes as fetched (still compressed), decoded only when one of its records is asked for. */
interface Pending {
  url: string;
  body: Uint8Array;
}

export class ShardRecords {
  private readonly byFile = new Map<string, { url: string; record: RepodataRecordJson }[]>();
  /** Shards not decoded yet, by their sha256 (their name). */
  private readonly pending = new Map<string, Pending>();
  /** From the sharded indexes seen: `<channel>/<subdir>` → package name → shard sha256. */
  private readonly indexes = new Map<string, Map<string, string>>();

  /** How many shards kept are not decoded yet. */
  get undecoded(): number {
    return this.pending.size;
  }

  /** Keeps a shard (`<channel>/<subdir>/<base>/<sha256>.msgpack.zst`); nothing is decoded yet. */
  add(url: string, body: Uint8Array): void {
    const hash = /([0-9a-f]{64})\.msgpack\.zst$/.exec(url)?.[1] ?? url;
    if (!this.pending.has(hash)) this.pending.set(hash, { url, body });
  }

  /** Reads a sharded index (`<channel>/<subdir>/repodata_shards.msgpack.zst`): which shard holds which name. */
  addIndex(url: string, body: Uint8Array): void {
    const index = readShardIndex(body, url);
    if (!index) return; // the solver says what is wrong with it
    const names = new Map<string, string>();
    for (const [name, shardUrl] of index.shards) {
      const hash = /([0-9a-f]{64})\.msgpack\.zst$/.exec(shardUrl)?.[1];
      if (hash) names.set(name, hash);
    }
    this.indexes.set(url.slice(0, url.lastIndexOf('/')), names);
  }

  private decode({ url, body }: Pending): void {
    // Decompressed within shard-loader.ts's limit (a hostile channel's zstd bomb is refused).
    for (const { fn, record } of readShard(body) ?? []) {
      let list = this.byFile.get(fn);
      if (!list) this.byFile.set(fn, (list = []));
      list.push({ url, record });
    }
  }

  /**
   * The record of `fn` from a shard of this channel and subdir (the shard's own URL says which).
   * With the package's `name` and the subdir's index seen, only that name's shard is decoded;
   * otherwise every shard kept is.
   */
  record(channel: string, subdir: string, fn: string, name?: string): RepodataRecordJson | undefined {
    const hash = name === undefined ? undefined : this.indexes.get(`${channel}/${subdir}`)?.get(name.toLowerCase());
    const mine = hash === undefined ? undefined : this.pending.get(hash);
    if (mine) {
      this.pending.delete(hash as string);
      this.decode(mine);
    }
    let found = this.find(channel, subdir, fn);
    if (!found && this.pending.size > 0) {
      for (const p of this.pending.values()) this.decode(p);
      this.pending.clear();
      found = this.find(channel, subdir, fn);
    }
    return found;
  }

  private find(channel: string, subdir: string, fn: string): RepodataRecordJson | undefined {
    const list = this.byFile.get(fn) ?? [];
    return (list.find((e) => e.url.startsWith(`${channel}/${subdir}/`)) ?? list.find((e) => e.url.startsWith(`${channel}/`)))?.record;
  }
}
