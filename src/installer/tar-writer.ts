import { createHash } from 'node:crypto';
import { closeSync, createWriteStream, fchmodSync, futimesSync, mkdirSync, openSync, rmSync, writeSync, writevSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { type Readable } from 'node:stream';
import * as tar from 'tar';
import { DIR_MODE, normalizeRel } from './path-safety.js';

/**
 * Writes the entries of a tar stream into a fresh, empty directory. node-tar parses; the writing is
 * done here because a conda package's directory is always new, so none of node-tar's care for
 * existing files is needed, and its per-file streams cost more than the writing itself (about half
 * the time of a cold install). Each file is hashed as it goes by.
 *
 * What may be written is decided by `check`, called for every entry before anything of it is written
 * (it refuses `..`, absolute paths, links leading out, devices; see extract.ts). Here, on top, the
 * installer's rule for every write (confined.ts, docs/installer-differences.md) as it applies to a
 * directory that starts empty: every path is normalised (`a/./b`, `a//b` are `a/b`) before anything
 * compares it; nothing is written, and no hard link made, whose path has a soft link of the archive
 * among its ancestors (in a fresh directory, that is exactly "whose parent's real path is outside");
 * a soft link replacing a directory waits until nothing is being written under it; links are made
 * without following; a path twice in the archive is removed before it is made again.
 *
 * The stream is read up to the tar's end-of-archive blocks and no further (what follows is never
 * decompressed), and at most `limits.bytes` of it: a small archive may hold any amount after its end.
 */

/** sha256, size and mode of every regular file written. */
export type Digests = Map<string, { sha256: string; size: number; mode: number }>;

export interface TarEntryInfo {
  /** Normalised path (normalizeRel): no empty or `.` segment. */
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

/** What the tars of one package share (a `.conda` has two, extracted into one directory). */
export interface TarLimits {
  /** Bytes of decompressed tar still allowed; decremented. */
  bytes: number;
  /** The soft links made so far: no later entry, of either tar, is written through one. */
  symlinks?: Set<string>;
  /**
   * Write files of up to STREAM_ABOVE bytes with synchronous calls (open, writev, futimes, close):
   * for a thread that does nothing else (extract-worker.ts), where each asynchronous call's round
   * trip to the thread pool would cost more than the call itself.
   */
  syncWrites?: boolean;
}

export async function writeTar(source: Readable, dest: string, check: EntryCheck, digests: Digests, limits?: TarLimits): Promise<void> {
  const writer = new TarWriter(dest, check, digests, limits?.symlinks, limits?.syncWrites ?? false);
  // Not strict: node-tar's warnings are its errors here, all but one: an archive of nothing but
  // end-of-archive blocks (or of no bytes at all) is an empty tar, the payload of a metapackage.
  const parser: tar.Parser = new tar.Parser({ strict: false, onReadEntry: (entry: tar.ReadEntry): void => writer.onEntry(entry, parser) });
  let onlyZeros = true;
  let eof = false;
  parser.on('warn', (code: string, message: string) => {
    if (code === 'TAR_BAD_ARCHIVE' && /Unrecognized archive format/.test(message) && onlyZeros) return;
    writer.fail(new Error(`${code}: ${message}`));
  });
  parser.on('error', (err: Error) => writer.fail(err));
  parser.on('abort', (err: Error) => writer.fail(err));
  parser.on('eof', () => {
    eof = true;
    writer.wake();
  });
  const parsed = new Promise<void>((resolve) => parser.on('end', resolve));
  try {
    for await (const data of source) {
      const chunk = data as Buffer;
      if (writer.failure || eof) break; // leaving the loop destroys the source: nothing more is decompressed
      if (limits) {
        limits.bytes -= chunk.length;
        if (limits.bytes < 0) {
          writer.fail(new Refusal('its contents expand beyond the size limit (a decompression bomb?)'));
          break;
        }
      }
      if (onlyZeros && chunk.some((b) => b !== 0)) onlyZeros = false;
      if (!parser.write(chunk)) await writer.unlessFailed(new Promise<void>((r) => parser.once('drain', () => r())), () => eof);
      await writer.whenBelow(MAX_QUEUED_BYTES);
    }
    if (!writer.failure) {
      parser.end();
      await writer.unlessFailed(parsed, () => false);
    }
  } catch (err) {
    writer.fail(err instanceof Error ? err : new Error(String(err)));
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
  /** Directories made by writeSync. */
  private readonly syncDirs = new Set<string>();
  private readonly written = new Map<string, Promise<void>>();
  private readonly symlinks: Set<string>;
  /** Every path made or being made, and each of its ancestors. */
  private readonly occupied = new Set<string>();
  private failed: () => void = () => undefined;
  private readonly failedOnce = new Promise<void>((resolve) => (this.failed = resolve));
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
    symlinks = new Set<string>(),
    private readonly syncWrites = false,
  ) {
    this.symlinks = symlinks;
    this.stopped = new Promise((resolve) => (this.stop = () => resolve('stopped')));
  }

  /** Records the first failure: the stream stops being read, waiters are woken. */
  fail(err: Error): void {
    this.failure ??= err;
    this.failed();
    this.wake();
  }

  /** Resolves when `work` does, or when something failed meanwhile (or `done()` says so on a wake). */
  async unlessFailed(work: Promise<void>, done: () => boolean): Promise<void> {
    if (this.failure || done()) return;
    await Promise.race([work, this.failedOnce, new Promise<void>((r) => this.drainWaiters.push(r))]);
    if (!this.failure && !done()) await Promise.race([work, this.failedOnce]);
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
      path: normalizeRel(String(entry.path)),
      type: entry.type,
      linkpath: String(entry.linkpath ?? ''),
      size: entry.size ?? 0,
      mode: entry.mode ?? 0o644,
      mtime: entry.mtime,
    };
    if (info.type === 'Directory' && info.path === '') {
      entry.resume(); // `./`: the directory itself
      return;
    }
    const refusal = this.failure ? 'stopped' : (this.check(info) ?? this.throughLink(info.path, info.type === 'Directory') ?? this.badHardLink(info));
    if (refusal) {
      this.fail(this.failure ?? new Refusal(refusal));
      entry.resume();
      parser.abort(this.failure as Error);
      return;
    }
    const abs = path.join(this.dest, info.path);
    const replacing = this.occupied.has(info.path);
    for (let p = info.path; p !== '.' && !this.occupied.has(p); p = path.posix.dirname(p)) this.occupied.add(p);
    switch (info.type) {
      case 'Directory':
        void this.track(this.dir(abs)); // track never rejects: a failure is kept in this.failure
        entry.resume();
        return;
      case 'SymbolicLink': {
        this.symlinks.add(info.path);
        // Over a directory of this archive: only once nothing is being written under it any more.
        const before = replacing ? Promise.allSettled([...this.pending]) : Promise.resolve();
        void this.track(before.then(() => this.dir(path.dirname(abs))).then(() => replace(abs, () => fs.symlink(info.linkpath, abs))));
        entry.resume();
        return;
      }
      case 'Link': {
        const target = normalizeRel(info.linkpath);
        const source = this.written.get(target) as Promise<void>;
        void this.track(Promise.all([source, this.dir(path.dirname(abs))]).then(() => replace(abs, () => fs.link(path.join(this.dest, target), abs))));
        entry.resume();
        return;
      }
      default:
        if (replacing && info.size > STREAM_ABOVE) {
          // streamed as it arrives, a large file cannot wait for the earlier one: refused, not raced
          this.fail(new Refusal(`${info.path} is twice in the archive, the second time a file over ${STREAM_ABOVE >> 20} MiB`));
          entry.resume();
          parser.abort(this.failure as Error);
          return;
        }
        this.file(entry, info, abs, parser);
    }
  }

  /**
   * A hard link may only name a regular file written earlier from this archive: any other target
   * (through a soft link, say `a/b -> ..` then `a/b/../x`) could reach a file outside.
   */
  private badHardLink(info: TarEntryInfo): string | undefined {
    if (info.type !== 'Link') return undefined;
    const target = normalizeRel(info.linkpath);
    if (!this.written.has(target)) return `hard link ${info.path} names ${target}, not a file earlier in the archive`;
    return this.throughLink(target, false);
  }

  /**
   * A soft link of this archive on the way to `rel` (writing there would write through it); with
   * `self`, `rel` itself too (a directory made over a soft link would follow it).
   */
  private throughLink(rel: string, self: boolean): string | undefined {
    for (let at = rel.indexOf('/'); at > 0; at = rel.indexOf('/', at + 1)) {
      const ancestor = rel.slice(0, at);
      if (this.symlinks.has(ancestor)) return `entry ${rel} would be written through the soft link ${ancestor}`;
    }
    if (self && this.symlinks.has(rel)) return `directory ${rel} would be made through the soft link ${rel}`;
    return undefined;
  }

  private file(entry: tar.ReadEntry, info: TarEntryInfo, abs: string, parser: tar.Parser): void {
    const hash = createHash('sha256');
    const counted = { size: 0 };
    if (info.size > STREAM_ABOVE) {
      // Large: straight to disk as it arrives (the directory first, synchronously, so no data waits).
      mkdirSync(path.dirname(abs), { recursive: true, mode: DIR_MODE });
      const out = createWriteStream(abs, { mode: info.mode, flags: 'wx' });
      let broken = false;
      entry.on('data', (chunk: Buffer) => {
        hash.update(chunk);
        counted.size += chunk.length;
        if (!broken && !out.write(chunk)) {
          entry.pause();
          out.once('drain', () => entry.resume());
        }
      });
      const closed = new Promise<void>((resolve, reject) => {
        out.on('error', reject);
        out.on('close', resolve);
      });
      // A write error (a full disk, a file-size limit) fails the package at once: no `drain` will
      // ever come, so the entry is let go and the parser stopped, rather than waiting for it.
      out.on('error', (err: Error) => {
        broken = true;
        this.fail(new Error(`cannot write ${info.path}: ${err.message}`));
        entry.resume();
        parser.abort(this.failure as Error);
        this.stop();
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
      if (this.syncWrites) {
        this.writeSync(abs, info, chunks);
        this.digests.set(info.path, { sha256: hash.digest('hex'), size: counted.size, mode: info.mode });
        return;
      }
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

  /** A new file holding `chunks`, with exactly the entry's mode and mtime, in synchronous calls. */
  private writeSync(abs: string, info: TarEntryInfo, chunks: Buffer[]): void {
    const parent = path.dirname(abs);
    if (!this.syncDirs.has(parent)) {
      mkdirSync(parent, { recursive: true, mode: DIR_MODE });
      this.syncDirs.add(parent);
    }
    let fd: number;
    try {
      fd = openSync(abs, 'wx', info.mode);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      rmSync(abs, { recursive: true, force: true }); // a path twice in the archive: the later entry wins
      fd = openSync(abs, 'wx', info.mode);
    }
    try {
      writeAllSync(fd, chunks);
      if (info.mode & UMASK) fchmodSync(fd, info.mode);
      if (info.mtime) futimesSync(fd, info.mtime, info.mtime);
    } finally {
      closeSync(fd);
    }
  }

  /** Exact mode (the umask may have taken bits), the archive's mtime, and the file's digest. */
  private async finish(abs: string, info: TarEntryInfo, hash: ReturnType<typeof createHash>, size: number): Promise<void> {
    if (info.mode & UMASK) await fs.chmod(abs, info.mode);
    if (info.mtime) await fs.utimes(abs, info.mtime, info.mtime);
    this.digests.set(info.path, { sha256: hash.digest('hex'), size, mode: info.mode });
  }

  private dir(abs: string): Promise<void> {
    let made = this.dirs.get(abs);
    if (!made) {
      made = fs.mkdir(abs, { recursive: true, mode: DIR_MODE }).then(() => undefined);
      this.dirs.set(abs, made);
    }
    return made;
  }

  private track(work: Promise<void>): Promise<void> {
    const tracked = work.catch((err: unknown) => {
      this.fail(err instanceof Error ? err : new Error(String(err)));
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

  wake(): void {
    this.wakeWaiters();
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

/** Writes every byte of `chunks` (writev may write less than asked). */
function writeAllSync(fd: number, chunks: Buffer[]): void {
  let total = 0;
  for (const c of chunks) total += c.length;
  if (total === 0) return;
  let written = writevSync(fd, chunks.slice(0, 1024));
  if (written === total) return;
  const data = Buffer.concat(chunks);
  while (written < total) written += writeSync(fd, data, written, total - written);
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
