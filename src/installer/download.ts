import { createHash, randomBytes, type Hash } from 'node:crypto';
import fs from 'node:fs';
import { Transform, Writable, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { FetchLike } from '../net/fetch-like.js';
import type { StreamFetch } from '../net/stream-fetch.js';
import { DEFAULT_RETRY, RetryableError, asRetryable, isRetryableStatus, parseRetryAfter, withRetries, type RetryPolicy } from '../net/retry.js';
import { HttpError, PackageError, errorMessage } from '../util/errors.js';
import type { Logger } from '../util/logger.js';
import { redactUrls, splitCredentials } from '../util/secrets.js';
import { localPath } from './url.js';

/** What an archive must match before anything is extracted from it. */
export interface Expected {
  sha256?: string;
  md5?: string;
  size?: number;
}

/** What an archive actually is. */
export interface Digest {
  sha256: string;
  md5: string;
  size: number;
}

export interface DownloadOptions {
  fetch: FetchLike;
  /**
   * GET for http(s) URLs without fetch's WHATWG streams (net/stream-fetch.ts): taken over `fetch`
   * when given.
   */
  stream?: StreamFetch;
  logger: Logger;
  retry?: RetryPolicy;
  /** Abort (and retry) a response that sends nothing for this long. Default 60 s. */
  idleTimeoutMs?: number;
  /** Told of every chunk received (progress). */
  onBytes?: (n: number) => void;
  /**
   * Also given every byte of the first attempt as it arrives (ended once the body is whole and matched
   * `expect`, destroyed otherwise, or when the download is retried): what extracts while downloading
   * (package-cache.ts). Its reader stopping early does not stop the download. Each chunk reaches it
   * once written to the file, and is not used after: the tap may take its buffer over. A HashingTap
   * hashes the bytes itself, and is ended once the body is whole, before it is verified.
   */
  tap?: Writable;
  /**
   * With a HashingTap: the first attempt writes no file, its bytes only go to the tap, whose hash
   * verifies them (what extracts while downloading needs nothing else, as in rattler). When the tap
   * cannot give that hash (its extraction stopped early), nothing verified the bytes and there is no
   * file: the download fails with TapOnlyUnverified, and the caller fetches the archive again into a
   * file. A retried download writes its file as usual.
   */
  tapOnly?: boolean;
}

/** A tap-only download whose tap could not hash the bytes: there is nothing to verify, nor a file. */
export class TapOnlyUnverified extends Error {}

/**
 * A tap that hashes what it is given (the extraction threads, extract-pool.ts): the download does
 * not hash the bytes a second time in the main thread. `hashed()` gives the hash once the tap has
 * ended, or undefined when it cannot (the download then hashes its file).
 */
export interface HashingTap extends Writable {
  hashed(): Promise<TapHash | undefined>;
}

/** What a HashingTap hashed: sha256 (md5 when asked), and how many bytes. */
export interface TapHash {
  sha256: string;
  md5?: string;
  size: number;
}

function isHashingTap(tap: Writable | undefined): tap is HashingTap {
  return tap !== undefined && typeof (tap as Partial<HashingTap>).hashed === 'function';
}

/**
 * Fetches `url` into `dest`: written under a temporary name, checked against `expect`, then renamed,
 * so `dest` only ever holds a whole, verified archive. Network errors, 5xx, 408, 429 and truncated
 * bodies are retried; a hash mismatch is not (the server would send the same bytes again).
 */
export async function downloadVerified(url: string, dest: string, expect: Expected, pkg: string, options: DownloadOptions): Promise<Digest> {
  const shown = redactUrls(url);
  const policy = options.retry ?? DEFAULT_RETRY;
  try {
    let attempt = 0;
    return await withRetries(
      policy,
      () => {
        // Only the first attempt feeds the tap: a retry's bytes start again from the first.
        if (attempt++ > 0) options.tap?.destroy(new Error('the download was retried'));
        return fetchOnce(url, dest, expect, pkg, attempt === 1 ? options : { ...options, tap: undefined, tapOnly: false });
      },
      (err, n, delay) => options.logger.warning(`${pkg}: download of ${shown} failed (${redactUrls(errorMessage(err))}); retry ${n} in ${(delay / 1000).toFixed(1)} s`),
    );
  } catch (err) {
    options.tap?.destroy(err instanceof Error ? err : new Error(String(err)));
    if (err instanceof TapOnlyUnverified) throw err;
    if (err instanceof PackageError) {
      // Wrong bytes: say which URL gave them.
      const reason = err.message.startsWith(`${pkg}: `) ? err.message.slice(pkg.length + 2) : err.message;
      throw new PackageError(pkg, `${reason} (downloaded from ${shown})`, { cause: err });
    }
    throw new PackageError(pkg, `download of ${shown} failed: ${redactUrls(errorMessage(err))}`);
  }
}

async function fetchOnce(url: string, dest: string, expect: Expected, pkg: string, options: DownloadOptions): Promise<Digest> {
  const local = localPath(url);
  const tapOnly = options.tapOnly === true && isHashingTap(options.tap);
  if (local) return writeVerified(fs.createReadStream(local, { highWaterMark: 1 << 20 }), dest, expect, pkg, options.onBytes, options.tap, tapOnly);
  const idleMs = options.idleTimeoutMs ?? 60_000;
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const arm = (): void => {
    clearTimeout(timer);
    timer = setTimeout(() => controller.abort(new RetryableError(`no data for ${idleMs / 1000} s`)), idleMs);
  };
  arm();
  const onBytes = (n: number): void => {
    arm();
    options.onBytes?.(n);
  };
  try {
    const plain = splitCredentials(url);
    const headers = plain.authorization ? { Authorization: plain.authorization } : undefined;
    if (options.stream && /^https?:/i.test(plain.url)) {
      const res = await options.stream(plain.url, { signal: controller.signal, headers });
      if (res.status < 200 || res.status > 299) {
        res.discard();
        throw statusError(url, res.status, res.statusText, res.header('retry-after') ?? null);
      }
      return await writeVerified(res.body, dest, expect, pkg, onBytes, options.tap, tapOnly);
    }
    const res = await options.fetch(plain.url, { signal: controller.signal, headers });
    if (!res.ok) {
      await res.body?.cancel().catch(() => undefined);
      throw statusError(url, res.status, res.statusText, res.headers.get('retry-after'));
    }
    if (!res.body) throw new RetryableError('empty response body');
    return await writeVerified(webBody(res.body, controller.signal), dest, expect, pkg, onBytes, options.tap, tapOnly);
  } catch (err) {
    // An abort carries our RetryableError as its reason; surface that rather than a bare AbortError.
    if (controller.signal.aborted && controller.signal.reason instanceof Error) throw controller.signal.reason;
    throw asRetryable(err);
  } finally {
    clearTimeout(timer);
  }
}

/** An answer other than 2xx: retryable (5xx, 408, 429, with the server's Retry-After) or not. */
function statusError(url: string, status: number, statusText: string, retryAfter: string | null): Error {
  const message = `HTTP ${status} ${statusText}`.trim();
  if (isRetryableStatus(status)) return new RetryableError(message, parseRetryAfter(retryAfter), status);
  return new HttpError(redactUrls(url), status, message);
}

async function* webBody(body: ReadableStream<Uint8Array>, signal: AbortSignal): AsyncGenerator<Buffer> {
  const reader = body.getReader();
  const onAbort = (): void => void reader.cancel(signal.reason).catch(() => undefined);
  signal.addEventListener('abort', onAbort);
  let finished = false;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (signal.aborted) throw signal.reason;
      if (done) {
        finished = true;
        return;
      }
      yield Buffer.from(value.buffer, value.byteOffset, value.byteLength);
    }
  } finally {
    signal.removeEventListener('abort', onAbort);
    // Stopped early (a failed check downstream): cancel the body so the connection is let go.
    if (!finished) await reader.cancel().catch(() => undefined);
    reader.releaseLock();
  }
}

/**
 * Streams `source` into a temporary file beside `dest`, hashing as it goes (or letting a HashingTap
 * hash it); renames once verified. `tapOnly` (with a HashingTap): no file, the tap's hash or nothing.
 */
async function writeVerified(source: Readable | AsyncIterable<Buffer>, dest: string, expect: Expected, pkg: string, onBytes?: (n: number) => void, tap?: Writable, tapOnly = false): Promise<Digest> {
  const tmp = tapOnly ? undefined : `${dest}.partial-${process.pid}-${randomBytes(4).toString('hex')}`;
  const hashingTap = isHashingTap(tap) ? tap : undefined;
  const sha = hashingTap ? undefined : createHash('sha256');
  const md5 = !hashingTap && md5Wanted(expect) ? createHash('md5') : undefined;
  let size = 0;
  const hashing = new Transform({
    transform(chunk: Buffer, _enc, callback) {
      size += chunk.length;
      if (expect.size !== undefined && size > expect.size) {
        callback(new PackageError(pkg, `the archive is larger than the expected ${expect.size} bytes`));
        return;
      }
      sha?.update(chunk);
      md5?.update(chunk);
      onBytes?.(chunk.length);
      callback(null, chunk);
    },
  });
  try {
    await pipeline(source, hashing, new ArchiveFile(tmp, tap));
    let digest: Digest;
    if (hashingTap) {
      // Every byte is in the file and was given to the tap: it ends, and says what it hashed. Its
      // hash counts only for exactly the bytes written (else, or when it has none, the file is hashed).
      if (!hashingTap.destroyed) hashingTap.end();
      const theirs = await hashingTap.hashed();
      const md5Ok = theirs?.md5 !== undefined || !md5Wanted(expect);
      if (theirs && theirs.size === size && md5Ok) digest = { sha256: theirs.sha256, md5: theirs.md5 ?? lockedMd5(expect), size };
      else if (tmp) digest = await digestFile(tmp, expect);
      else {
        // A short body is still worth a retry (with a file); anything else has nothing to check.
        if (expect.size !== undefined && size < expect.size) verifyDigest({ sha256: '', md5: '', size }, expect, pkg);
        throw new TapOnlyUnverified(`${pkg}: its extraction stopped before the end, so nothing hashed the downloaded bytes`);
      }
    } else {
      digest = { sha256: (sha as Hash).digest('hex'), md5: md5?.digest('hex') ?? lockedMd5(expect), size };
    }
    verifyDigest(digest, expect, pkg);
    if (tmp) await fs.promises.rename(tmp, dest);
    // Whole and verified: only now does a tap's reader see the end of its stream (a HashingTap's
    // extraction counts only once its caller has this digest).
    if (tap && !hashingTap && !tap.destroyed) tap.end();
    return digest;
  } catch (err) {
    tap?.destroy(err instanceof Error ? err : new Error(String(err)));
    if (tmp) await fs.promises.rm(tmp, { force: true });
    throw err;
  }
}

/**
 * The archive's file. Chunks are written in batches (no round trip per network chunk), and each goes
 * on to `tap` only once it is on disk: the tap may then take its bytes over (extract-pool.ts hands
 * them to a thread without a copy), and a tap whose reader is behind holds the download back. Without
 * a file (a tap-only download), the chunks only go to the tap.
 */
class ArchiveFile extends Writable {
  private fd: number | undefined;

  constructor(
    private readonly file: string | undefined,
    private readonly tap?: Writable,
  ) {
    super({ highWaterMark: 1 << 20 });
  }

  override _construct(callback: (err?: Error | null) => void): void {
    if (this.file === undefined) {
      callback();
      return;
    }
    fs.open(this.file, 'w', 0o644, (err, fd) => {
      this.fd = fd;
      callback(err);
    });
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, callback: (err?: Error | null) => void): void {
    this._writev([{ chunk }], callback);
  }

  override _writev(chunks: { chunk: Buffer }[], callback: (err?: Error | null) => void): void {
    const buffers = chunks.map((c) => c.chunk);
    if (this.file === undefined) {
      this.pass(buffers, 0, callback);
      return;
    }
    writevAll(this.fd as number, buffers, (err) => (err ? callback(err) : this.pass(buffers, 0, callback)));
  }

  /** The written chunks to the tap, waiting for it when it is behind (or until it stops reading). */
  private pass(buffers: Buffer[], from: number, callback: (err?: Error | null) => void): void {
    const tap = this.tap;
    for (let i = from; i < buffers.length; i++) {
      if (!tap || tap.destroyed) break;
      if (!tap.write(buffers[i])) {
        const go = (): void => {
          tap.off('drain', go);
          tap.off('close', go);
          this.pass(buffers, i + 1, callback);
        };
        tap.on('drain', go);
        tap.on('close', go);
        return;
      }
    }
    callback();
  }

  override _final(callback: (err?: Error | null) => void): void {
    const fd = this.fd;
    this.fd = undefined;
    if (fd === undefined) callback();
    else fs.close(fd, (err) => callback(err));
  }

  override _destroy(err: Error | null, callback: (err?: Error | null) => void): void {
    const fd = this.fd;
    this.fd = undefined;
    if (fd === undefined) callback(err);
    else fs.close(fd, () => callback(err));
  }
}

/** fs.writev until every byte is written (a write may be short). */
function writevAll(fd: number, buffers: Buffer[], callback: (err: Error | null) => void): void {
  fs.writev(fd, buffers, (err, written) => {
    if (err) return callback(err);
    let left = written;
    let i = 0;
    while (i < buffers.length && left >= buffers[i].length) left -= buffers[i++].length;
    if (i === buffers.length) return callback(null);
    writevAll(fd, [buffers[i].subarray(left), ...buffers.slice(i + 1)], callback);
  });
}

/** Throws when `digest` does not match `expect`: a short file is worth a retry, wrong bytes are not. */
export function verifyDigest(digest: Digest, expect: Expected, pkg: string): void {
  if (expect.size !== undefined && digest.size < expect.size) {
    throw new RetryableError(`${pkg}: got ${digest.size} of ${expect.size} bytes (truncated)`);
  }
  if (expect.size !== undefined && digest.size !== expect.size) {
    throw new PackageError(pkg, `size ${digest.size} differs from the expected ${expect.size}`);
  }
  if (expect.sha256 && digest.sha256 !== expect.sha256.toLowerCase()) {
    throw new PackageError(pkg, `sha256 ${digest.sha256} differs from the expected ${expect.sha256}: the archive is corrupt or not the one locked`);
  }
  if (!expect.sha256 && expect.md5 && digest.md5 !== expect.md5.toLowerCase()) {
    throw new PackageError(pkg, `md5 ${digest.md5} differs from the expected ${expect.md5}: the archive is corrupt or not the one locked`);
  }
}

/**
 * md5 is slow (slower than sha256 with the CPU's SHA instructions: ~0.3 s per 200 MB here) and only
 * needed to verify an archive whose lock has no sha256, or to record an md5 the lock does not give.
 * When the lock gives both, the sha256 check proves these are the locked bytes, and the lock's md5
 * (the channel's own for them) is what conda and rattler record too.
 */
export function md5Wanted(expect: Expected): boolean {
  return !expect.sha256 || !expect.md5;
}

function lockedMd5(expect: Expected): string {
  return (expect.md5 as string).toLowerCase();
}

/** Hashes a file on disk (an archive already in the cache); md5 as writeVerified takes it. */
export async function digestFile(file: string, expect: Expected = {}): Promise<Digest> {
  const sha = createHash('sha256');
  const md5 = md5Wanted(expect) ? createHash('md5') : undefined;
  let size = 0;
  for await (const chunk of fs.createReadStream(file, { highWaterMark: 1 << 20 })) {
    sha.update(chunk as Buffer);
    md5?.update(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  return { sha256: sha.digest('hex'), md5: md5?.digest('hex') ?? lockedMd5(expect), size };
}

/** True when `digest` matches everything `expect` says. */
export function matches(digest: Digest, expect: Expected): boolean {
  try {
    verifyDigest(digest, expect, '');
    return true;
  } catch {
    return false;
  }
}

/**
 * Says what a deploy fetches: `Fetching <package>` as each download starts (the old tool's line), and
 * while downloads run, at most every `everyMs`, the bytes done of the total, the rate and the time left.
 */
export class DownloadProgress {
  private bytes = 0;
  private done = 0;
  private active = 0;
  private readonly started = Date.now();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly logger: Logger,
    private readonly total: number,
    everyMs = 5_000,
    /** Bytes of the packages not in the cache (from env.lock), when known. */
    public totalBytes?: number,
  ) {
    this.timer = setInterval(() => {
      if (this.active > 0) this.report();
    }, everyMs);
    this.timer.unref();
  }

  add = (n: number): void => {
    this.bytes += n;
  };

  /** A download starts. */
  fetching(dist: string): void {
    this.active++;
    this.logger.info(`Fetching ${dist}`);
  }

  /** A download ended (well or not). */
  fetched(): void {
    this.active = Math.max(0, this.active - 1);
  }

  packageDone(): void {
    this.done++;
  }

  get downloadedBytes(): number {
    return this.bytes;
  }

  report(): void {
    const seconds = Math.max((Date.now() - this.started) / 1000, 0.001);
    const rate = this.bytes / seconds;
    const of = this.totalBytes ? ` of ${mb(this.totalBytes)}` : '';
    const left = this.totalBytes && rate > 0 && this.totalBytes > this.bytes ? `, about ${duration((this.totalBytes - this.bytes) / rate)} left` : '';
    this.logger.info(`Downloaded ${mb(this.bytes)}${of} MB at ${mb(rate)} MB/s${left}; ${this.done} of ${this.total} packages ready`);
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }
}

const duration = (s: number): string => (s < 90 ? `${Math.ceil(s)} s` : `${Math.ceil(s / 60)} min`);
const mb = (n: number): string => (n / 1e6).toFixed(1);
