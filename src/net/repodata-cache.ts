/**
 * The on-disk repodata cache: one body and one small metadata file per URL, keyed by a hash of
 * the URL (which never carries credentials). The metadata holds only the validators the server
 * gave (ETag, Last-Modified), so an unchanged channel costs a 304 on the next run.
 */
import { randomBytes } from 'node:crypto';
import { sha256Hex } from '../util/files.js';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';

export interface CacheEntry {
  url: string;
  etag?: string;
  lastModified?: string;
  size: number;
}

/** Shard files written at once. */
const SHARD_WRITERS = 4;

export class RepodataCache {
  /** The shard files present when the run first looked (a cold cache costs no failed opens). */
  private shardsPresent?: Promise<Set<string>>;
  private shardsDir?: Promise<void>;
  /** Shard writes waiting or running: a run fetches thousands, and the disk is slower than the network. */
  private readonly shardWrites: (() => Promise<void>)[] = [];
  private shardWriters = 0;
  private shardsWritten?: { promise: Promise<void>; resolve: () => void };
  /** Holds on the shard writes (holdShardWrites), and where their errors go. */
  private shardHolds = 0;
  private onShardError: (err: unknown) => void = () => {};

  constructor(readonly dir: string) {}

  private shardFile(url: string): string {
    return path.join(this.dir, 'shards', sha256Hex(url).slice(0, 40));
  }

  /**
   * A shard of sharded repodata as stored, or undefined. Shards are named by their content's
   * sha256 and the caller checks it, so they need no validators and no atomic rename: one file
   * each, and a torn one is a miss like any other.
   */
  async readShard(url: string): Promise<Buffer | undefined> {
    this.shardsPresent ??= fs.readdir(path.join(this.dir, 'shards')).then(
      (names) => new Set(names),
      () => new Set<string>(),
    );
    const file = this.shardFile(url);
    if (!(await this.shardsPresent).has(path.basename(file))) return undefined;
    try {
      return await fs.readFile(file);
    } catch {
      return undefined;
    }
  }

  /**
   * Stores a shard in the background (SHARD_WRITERS at a time), so that fetching the next shards
   * never waits for the disk; `shardsSettled()` waits for what is queued. A failed write costs the
   * next run a download, no more (`onError` hears of it).
   */
  writeShard(url: string, body: Uint8Array, onError: (err: unknown) => void): void {
    this.shardWrites.push(async () => {
      this.shardsDir ??= fs.mkdir(path.join(this.dir, 'shards'), { recursive: true }).then(() => undefined);
      await this.shardsDir;
      await fs.writeFile(this.shardFile(url), body);
    });
    this.shardsWritten ??= (() => {
      let resolve = (): void => {};
      const promise = new Promise<void>((r) => (resolve = r));
      return { promise, resolve };
    })();
    this.onShardError = onError;
    this.startShardWriters();
  }

  /**
   * Keeps the shard writes queued (none started) until the returned function is called: the
   * thousands of small files of a conda-forge-sized solve cost seconds of system time, better
   * spent while the solver thread works than while the shards are read. Holds nest.
   */
  holdShardWrites(): () => void {
    this.shardHolds++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.shardHolds--;
      this.startShardWriters();
    };
  }

  private startShardWriters(): void {
    while (this.shardHolds === 0 && this.shardWriters < SHARD_WRITERS && this.shardWrites.length > 0) {
      this.shardWriters++;
      void this.writeShards(this.onShardError);
    }
  }

  /** Resolves once every shard write queued so far has ended (none is held then). */
  async shardsSettled(): Promise<void> {
    await this.shardsWritten?.promise;
  }

  private async writeShards(onError: (err: unknown) => void): Promise<void> {
    while (this.shardHolds === 0) {
      const job = this.shardWrites.shift();
      if (!job) break;
      await job().catch(onError);
    }
    this.shardWriters--;
    if (this.shardWriters === 0 && this.shardWrites.length === 0) {
      this.shardsWritten?.resolve();
      this.shardsWritten = undefined;
    }
  }

  private base(url: string): string {
    return path.join(this.dir, sha256Hex(url).slice(0, 40));
  }

  /** The validators and body stored for `url`, or undefined when absent or incomplete. */
  async read(url: string): Promise<{ entry: CacheEntry; body: Buffer } | undefined> {
    const base = this.base(url);
    try {
      const entry = JSON.parse(await fs.readFile(`${base}.json`, 'utf8')) as CacheEntry;
      if (entry.url !== url) return undefined;
      const body = await fs.readFile(`${base}.body`);
      return body.length === entry.size ? { entry, body } : undefined;
    } catch {
      return undefined;
    }
  }

  /** Only the metadata: what a conditional request needs. */
  async validators(url: string): Promise<CacheEntry | undefined> {
    try {
      const entry = JSON.parse(await fs.readFile(`${this.base(url)}.json`, 'utf8')) as CacheEntry;
      return entry.url === url ? entry : undefined;
    } catch {
      return undefined;
    }
  }

  /**
   * Stores a body and its validators. The body is renamed into place before the metadata, so a
   * reader that finds metadata finds its body (and checks its size, for two writers racing).
   */
  async write(entry: CacheEntry, body: Uint8Array): Promise<void> {
    await fs.mkdir(this.dir, { recursive: true });
    const base = this.base(entry.url);
    const tmp = `${base}.${randomBytes(6).toString('hex')}.tmp`;
    await fs.writeFile(tmp, body);
    await fs.rename(tmp, `${base}.body`);
    await fs.writeFile(`${tmp}.json`, JSON.stringify(entry));
    await fs.rename(`${tmp}.json`, `${base}.json`);
  }
}
