/**
 * The records of the shards a solve fetched (CEP-16 sharded repodata), for the fields the solver
 * does not return (constrains, license, timestamp, noarch).
 */
import { inflateBounded } from './shard-loader.js';
import { decodeMsgpack, type MsgpackValue } from './msgpack.js';
import type { RepodataRecordJson } from './repodata-pruner.js';

/** The most a shard may hold decompressed (conda-forge's largest are a few MB). */
const SHARD_LIMIT = 256 * 1024 * 1024;

const hex = (v: unknown): string | undefined => (v instanceof Uint8Array ? Buffer.from(v).toString('hex') : typeof v === 'string' ? v : undefined);

export class ShardRecords {
  private readonly byFile = new Map<string, { url: string; record: RepodataRecordJson }[]>();

  add(url: string, body: Uint8Array): void {
    let shard: MsgpackValue;
    try {
      // A shard from a hostile channel may be a zstd bomb: only a declared size within bounds is read.
      const raw = inflateBounded(body, SHARD_LIMIT);
      if (!raw) return;
      shard = decodeMsgpack(raw);
    } catch {
      return; // the solver says what is wrong with it
    }
    if (!shard || typeof shard !== 'object' || Array.isArray(shard) || shard instanceof Uint8Array) return;
    for (const table of ['packages', 'packages.conda']) {
      const records = shard[table];
      if (!records || typeof records !== 'object' || Array.isArray(records) || records instanceof Uint8Array) continue;
      for (const [fn, raw] of Object.entries(records)) {
        if (!raw || typeof raw !== 'object' || Array.isArray(raw) || raw instanceof Uint8Array) continue;
        const record = { ...raw, md5: hex(raw.md5), sha256: hex(raw.sha256) } as unknown as RepodataRecordJson;
        let list = this.byFile.get(fn);
        if (!list) this.byFile.set(fn, (list = []));
        list.push({ url, record });
      }
    }
  }

  /** The record of `fn` from a shard of this channel and subdir (the shard's own URL says which). */
  record(channel: string, subdir: string, fn: string): RepodataRecordJson | undefined {
    const list = this.byFile.get(fn) ?? [];
    return (list.find((e) => e.url.startsWith(`${channel}/${subdir}/`)) ?? list.find((e) => e.url.startsWith(`${channel}/`)))?.record;
  }
}
