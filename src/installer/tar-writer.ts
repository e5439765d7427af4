import { createHash } from 'node:crypto';
import { createWriteStream, mkdirSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { Writable, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import * as tar from 'tar';

/**
 * Writes the entries of a tar stream into a fresh, empty directory. node-tar parses; the writing is
 * done here because a conda package's directory is always new, so none of node-tar's care for
 * existing files is needed, and its per-file streams cost more than the writing itself (about half
 * the time of a cold install). Each file is hashed as it goes by.
 *
 * What may be written is decided by `check`, called for every entry before anything of it is written
 * (it refuses `..`, absolute paths, links leading out, devices; see extract.ts). Here, on top: nothing
 * is ever written through a soft link of the archive itself, as node-tar does not either.
 */

/** sha256 and size of every regular file written. */
export type Digests = Map<string, { sha256: string; size: number }>;

export interface TarEntryInfo {
  /** Normalised path: no leading `./`, no trailing `/`. */
  path: string;
  type: string;
  linkpath: string;
  size: number;
  /** Permission bits, setuid/setgid already dropped by `check`. */
  mode: number;
  mtime?: Date;
}

/** Why an entry may not be written (undefined: it may). May adjust `entry.mode`. */
export type EntryCheck = (entry: TarEntryInfo) => string | undefined;

/** Read once: the mode files are created with is masked by it. */
const UMASK = process.umask();

/** Files above this size are streamed to disk rather than gathered in memory first. */
const STREAM_ABOVE = 8 << 20;
/** Gathered files waiting to be written, at most: the parser waits beyond it. */
const MAX_QUEUED_BYTES = 64 << 20;

export class Refusal extends Error {}

export async function writeTar(source: Readable, dest: string, check: EntryCheck, digests: Digests): Promise<void> {
  const writer = new TarWriter(dest, check, digests);
  const parser: tar.Parser = new tar.Parser({ strict: true, onReadEntry: (entry: tar.ReadEntry): void => writer.onEntry(entry, parser) });
  const feed = new Writable({
    write(chunk: Buffer, _enc, callback) {
      if (writer.failure) return callback(writer.failure);
      const drained = parser.write(chunk) ? Promise.resolve() : new Promise<void>((r) => parser.once('drain', () => r()));
      Promise.all([drained, writer.whenBelow(MAX_QUEUED_BYTES)]).then(() => callback(writer.failure), callback);
    },
    final(callback) {
      parser.end();
      callback();
    },
  });
  const parsed = new Promise<void>((resolve, reject) => {
    parser.on('end', resolve);
    parser.on('error', reject);
    parser.on('abort', reject);
  });
  parsed.catch(() => undefined);
  try {
    await pipeline(source, feed);
    await parsed;
  } finally {
    // Whatever happened, no write of ours is still running when the caller looks at (or removes) dest.
    writer.stop();
    await writer.settled();
  }
  if (writer.failure) throw writer.failure;
}

class TarWriter {
  failure: Error | undefined;
  private readonly dirs = new Map<string, Promise<void>>();
  private readonly written = new Map<string, Promise<void>>();
  private readonly symlinks = new Set<string>();
  private readonly pending = new Set<Promise<void>>();
  private queuedBytes = 0;
  private drainWaiters: (() => void)[] = [];
  /** Resolves when the stream is over: an entry cut short by an error will never end on its own. */
  private readonly stopped: Promise<'stopped'>;
  stop: () => void = () => undefined;

  constructor(
    private readonly dest: string,
    private readonly check: EntryCheck,
    private readonly digests: Digests,
  ) {
    this.stopped = new Promise((resolve) => (this.stop = () => resolve('stopped')));
  }

  /** Resolves when `entry` has ended, or rejects when the stream stopped first (a damaged archive). */
  private ended(entry: tar.ReadEntry): Promise<void> {
    const end = new Promise<'ended'>((resolve) => entry.on('end', () => resolve('ended')));
    return Promise.race([end, this.stopped]).then((how) => {
      if (how === 'stopped') throw new Error(`the archive ends inside ${String(entry.path)}`);
    });
  }

  onEntry(entry: tar.ReadEntry, parser: tar.Parser): void {
    const info: TarEntryInfo = {
      path: String(entry.path).replace(/^(\.\/)+/, '').replace(/\/+$/, ''),
      type: entry.type,
      linkpath: String(entry.linkpath ?? ''),
      size: entry.size ?? 0,
      mode: entry.mode ?? 0o644,
      mtime: entry.mtime,
    };
    const refusal = this.failure ? 'stopped' : (this.check(info) ?? this.throughLink(info.path) ?? this.badHardLink(info));
    if (refusal) {
      this.failure ??= new Refusal(refusal);
      entry.resume();
      parser.abort(this.failure);
      return;
    }
    const abs = path.join(this.dest, info.path);
    switch (info.type) {
      case 'Directory':
        void this.track(this.dir(abs)); // track never rejects: a failure is kept in this.failure
        entry.resume();
        return;
      case 'SymbolicLink':
        this.symlinks.add(info.path);
        void this.track(this.dir(path.dirname(abs)).then(() => replace(abs, () => fs.symlink(info.linkpath, abs))));
        entry.resume();
        return;
      case 'Link': {
        const target = info.linkpath.replace(/^(\.\/)+/, '');
        const source = this.written.get(target) as Promise<void>;
        void this.track(Promise.all([source, this.dir(path.dirname(abs))]).then(() => replace(abs, () => fs.link(path.join(this.dest, target), abs))));
        entry.resume();
        return;
      }
      default:
        this.file(entry, info, abs);
    }
  }

  /**
   * A hard link may only name a regular file written earlier from this archive: any other target
   * (through a soft link, say `a/b -> ..` then `a/b/../x`) could reach a file outside.
   */
  private badHardLink(info: TarEntryInfo): string | undefined {
    if (info.type !== 'Link') return undefined;
    const target = info.linkpath.replace(/^(\.\/)+/, '');
    return this.written.has(target) ? undefined : `hard link ${info.path} names ${target}, not a file earlier in the archive`;
  }

  /** A soft link of this archive on the way to `rel` (writing there would write through it). */
  private throughLink(rel: string): string | undefined {
    for (let at = rel.indexOf('/'); at > 0; at = rel.indexOf('/', at + 1)) {
      const ancestor = rel.slice(0, at);
      if (this.symlinks.has(ancestor)) return `entry ${rel} would be written through the soft link ${ancestor}`;
    }
    return undefined;
  }

  private file(entry: tar.ReadEntry, info: TarEntryInfo, abs: string): void {
    const hash = createHash('sha256');
    const counted = { size: 0 };
    if (info.size > STREAM_ABOVE) {
      // Large: straight to disk as it arrives (the directory first, synchronously, so no data waits).
      mkdirSync(path.dirname(abs), { recursive: true });
      const out = createWriteStream(abs, { mode: info.mode, flags: 'wx' });
      entry.on('data', (chunk: Buffer) => {
        hash.update(chunk);
        counted.size += chunk.length;
        if (!out.write(chunk)) {
          entry.pause();
          out.once('drain', () => entry.resume());
        }
      });
      const closed = new Promise<void>((resolve, reject) => {
        out.on('error', reject);
        out.on('close', resolve);
      });
      closed.catch(() => undefined); // handled below, once the entry has ended
      const done = this.ended(entry)
        .then(
          () => new Promise<void>((resolve) => out.end(resolve)),
          (err: unknown) => {
            out.destroy();
            throw err;
          },
        )
        .then(() => closed)
        .then(() => this.finish(abs, info, hash, counted.size));
      this.written.set(info.path, this.track(done));
      return;
    }
    const chunks: Buffer[] = [];
    entry.on('data', (chunk: Buffer) => {
      hash.update(chunk);
      counted.size += chunk.length;
      chunks.push(chunk);
    });
    // A path twice in one archive: the later entry is written after the earlier one, so it wins.
    const earlier = this.written.get(info.path);
    const done = this.ended(entry).then(async () => {
      await earlier;
      const data = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks);
      this.queuedBytes += data.length;
      try {
        await this.dir(path.dirname(abs));
        await replace(abs, () => fs.writeFile(abs, data, { mode: info.mode, flag: 'wx' }));
        await this.finish(abs, info, hash, counted.size);
      } finally {
        this.queuedBytes -= data.length;
        this.wakeWaiters();
      }
    });
    this.written.set(info.path, this.track(done));
  }

  /** Exact mode (the umask may have taken bits), the archive's mtime, and the file's digest. */
  private async finish(abs: string, info: TarEntryInfo, hash: ReturnType<typeof createHash>, size: number): Promise<void> {
    if (info.mode & UMASK) await fs.chmod(abs, info.mode);
    if (info.mtime) await fs.utimes(abs, info.mtime, info.mtime);
    this.digests.set(info.path, { sha256: hash.digest('hex'), size });
  }

  private dir(abs: string): Promise<void> {
    let made = this.dirs.get(abs);
    if (!made) {
      made = fs.mkdir(abs, { recursive: true }).then(() => undefined);
      this.dirs.set(abs, made);
    }
    return made;
  }

  private track(work: Promise<void>): Promise<void> {
    const tracked = work.catch((err: unknown) => {
      this.failure ??= err instanceof Error ? err : new Error(String(err));
    });
    this.pending.add(tracked);
    void tracked.finally(() => {
      this.pending.delete(tracked);
      this.wakeWaiters();
    });
    return tracked;
  }

  whenBelow(limit: number): Promise<void> {
    if (this.queuedBytes <= limit || this.failure) return Promise.resolve();
    return new Promise<void>((resolve) => this.drainWaiters.push(resolve)).then(() => this.whenBelow(limit));
  }

  private wakeWaiters(): void {
    const waiters = this.drainWaiters;
    this.drainWaiters = [];
    for (const w of waiters) w();
  }

  async settled(): Promise<void> {
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
  }
}

/** Runs `make`, and when something is already at `abs` (a path twice in one archive), replaces it. */
async function replace(abs: string, make: () => Promise<void>): Promise<void> {
  try {
    await make();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    await fs.rm(abs, { recursive: true, force: true });
    await make();
  }
}
