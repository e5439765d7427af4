/**
 * Worker threads that extract `.conda` archives while they download (extract-worker.ts). The main
 * thread keeps the download and the archive file; each archive's bytes are handed to a thread as
 * they arrive, at most IN_FLIGHT bytes ahead of what it has taken. The thread hashes them (the
 * download verifies that hash against the lock: no second hashing in the main thread) and extracts
 * them. A thread that dies fails its extractions, which the package cache then does from the
 * downloaded file, in the main thread, as for any archive the stream could not settle (and the
 * download then hashes that file itself).
 *
 * GITENV_EXTRACT_THREADS sets the threads (default: the cores, at most 4; 0 extracts in the main thread).
 */
import { existsSync } from 'node:fs';
import * as os from 'node:os';
import { fileURLToPath } from 'node:url';
import { Writable } from 'node:stream';
import { Worker } from 'node:worker_threads';
import { ConfigurationError } from '../util/errors.js';
import { threadEntry } from '../util/threads.js';
import type { HashingTap, TapHash } from './download.js';
import type { Digests } from './tar-writer.js';
import { RefusedArchive } from './extract.js';
import { EXTRACT_WORKER_FLAG, type FromExtractWorker, type ToExtractWorker } from './extract-worker.js';

/**
 * Bytes of one archive sent to its thread and not yet taken by its reader. 2 MiB keeps the thread
 * fed (a chunk is 64 KiB or so) and was faster than 8 MiB on the installer benchmark (1.10–1.13 s
 * against 1.16–1.23 s), its buffers fewer and their memory reused sooner.
 */
const IN_FLIGHT = 2 << 20;

/** Runs in the thread first (CommonJS, an `eval` worker): tsx when running from sources, then the entry. */
const BOOTSTRAP = String.raw`
const { workerData, parentPort } = require('node:worker_threads');
(async () => {
  if (workerData.tsx) (await import(workerData.tsx)).register();
  const entry = await import(workerData.entry);
  if (typeof entry.serveExtractions === 'function') entry.serveExtractions();
})().catch((err) => {
  parentPort.postMessage({ type: 'crashed', reason: 'the extraction thread did not start: ' + ((err && err.stack) || err) });
  process.exit(1);
});
`;

/**
 * What a thread loads: the small `extract-worker` bundle beside the bundle this module is part of
 * (dist/extract-worker/, built with the others), else that bundle itself (the threads of a bundle
 * copied alone), else, from sources, extract-worker.ts through tsx. The whole deploy bundle costs a
 * thread about 80 ms more to load.
 */
function workerEntry(): { entry: string; tsx?: string } {
  const found = threadEntry(import.meta.url, './extract-worker.ts');
  if (found.tsx) return found;
  // Built from parts: a literal `new URL('…', import.meta.url)` is taken by ncc for an asset of the
  // bundle and replaced by a stub.
  const sibling = new URL(['..', 'extract-worker', 'index.js'].join('/'), import.meta.url);
  return existsSync(fileURLToPath(sibling)) ? { entry: sibling.href } : found;
}

/** The number of extraction threads from GITENV_EXTRACT_THREADS (0: none). */
export function extractThreads(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.GITENV_EXTRACT_THREADS;
  if (raw === undefined || raw.trim() === '') return Math.min(4, typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length);
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0) throw new ConfigurationError(`GITENV_EXTRACT_THREADS=${raw}: expected a whole number, 0 or more`);
  return Math.min(n, 64);
}

export interface ThreadExtraction {
  /**
   * Where the download writes the archive's bytes; end() once every byte is written. Its `hashed()`
   * is the hash of those bytes, taken in the thread, or undefined when the thread could not give it
   * (it stopped, or dropped the archive on a refusal): the download then hashes the file itself.
   * What is extracted counts only once the caller matched the archive against the lock.
   */
  tap: HashingTap;
  /** The digests of the files extracted; rejects when the thread could not extract the archive. */
  result: Promise<Digests>;
}

interface Job {
  /** The package, as errors name it. */
  pkg: string;
  settle: (err: Error | undefined, digests?: Digests) => void;
  /** Given the thread's hash, or undefined once it can no longer come. */
  onHashed: (hash: TapHash | undefined) => void;
  /** Bytes sent and not yet taken. */
  inFlight: number;
  /** The write waiting for the thread to catch up. */
  resume?: () => void;
  /** Its hash was given (or can no longer come). */
  hashed?: boolean;
  /** Its extraction was refused: it stays until its bytes are all hashed. */
  refused?: boolean;
}

class Thread {
  readonly worker: Worker;
  readonly jobs = new Map<number, Job>();
  dead: string | undefined;
  /** Resolves once the thread has stopped. */
  readonly stopped: Promise<void>;

  constructor() {
    this.worker = new Worker(BOOTSTRAP, { eval: true, workerData: { ...workerEntry(), [EXTRACT_WORKER_FLAG]: true }, stdout: false, stderr: false });
    this.worker.unref();
    this.worker.on('message', (msg: FromExtractWorker) => this.onMessage(msg));
    this.worker.on('error', (err: Error) => this.die(`the extraction thread failed: ${err.message}`));
    this.stopped = new Promise((resolve) => this.worker.once('exit', () => resolve()));
    this.worker.on('exit', (code) => this.exited(code));
  }

  post(msg: ToExtractWorker, transfer: ArrayBuffer[] = []): void {
    if (!this.dead) this.worker.postMessage(msg, transfer);
  }

  private onMessage(msg: FromExtractWorker): void {
    if (msg.type === 'crashed') {
      this.die(msg.reason);
      return;
    }
    const job = this.jobs.get(msg.id);
    if (!job) return;
    if (msg.type === 'taken') {
      job.inFlight -= msg.bytes;
      if (job.inFlight < IN_FLIGHT) this.resume(job);
      return;
    }
    if (msg.type === 'hashed') {
      job.hashed = true;
      job.onHashed({ sha256: msg.sha256, md5: msg.md5, size: msg.size });
      if (job.refused) this.forget(msg.id);
      return;
    }
    if (msg.type === 'failed' && msg.refused) {
      // Final once the download has verified the bytes refused, which the thread goes on hashing.
      job.refused = true;
      this.resume(job);
      job.settle(new RefusedArchive(job.pkg, msg.message));
      if (job.hashed) this.forget(msg.id);
      return;
    }
    this.jobs.delete(msg.id);
    this.idle();
    this.resume(job);
    job.onHashed(undefined); // not given by now (a failure before the end): it will not be
    if (msg.type === 'done') job.settle(undefined, new Map(msg.digests));
    else job.settle(new Error(msg.message));
  }

  private forget(id: number): void {
    this.jobs.delete(id);
    this.idle();
  }

  private resume(job: Job): void {
    const go = job.resume;
    job.resume = undefined;
    go?.();
  }

  /** No extraction left: the thread does not keep the process alive. */
  idle(): void {
    if (this.jobs.size === 0) this.worker.unref();
  }

  /**
   * The thread is lost: nothing more is sent to it, and its extractions fail once it has stopped
   * (not before: until then it may still be writing into their directories).
   */
  die(reason: string): void {
    if (!this.dead) {
      this.dead = reason;
      for (const job of this.jobs.values()) this.resume(job); // the downloads go on without it
      void this.worker.terminate();
    }
  }

  /** The thread has stopped: its extractions fail. */
  exited(code: number): void {
    this.dead ??= `the extraction thread exited (code ${code})`;
    for (const job of this.jobs.values()) {
      this.resume(job);
      job.onHashed(undefined);
      job.settle(new Error(this.dead));
    }
    this.jobs.clear();
  }
}

/** A few threads, each extracting any number of archives at once; the least busy takes the next. */
export class ExtractPool {
  private readonly threads: Thread[] = [];
  private nextId = 0;

  constructor(private readonly size: number) {}

  /** An idle thread, else a new one while there are fewer than `size`, else the least busy. */
  private thread(): Thread {
    for (let i = this.threads.length - 1; i >= 0; i--) if (this.threads[i].dead) this.threads.splice(i, 1);
    const least = this.threads.length > 0 ? this.threads.reduce((a, b) => (b.jobs.size < a.jobs.size ? b : a)) : undefined;
    if (least && (least.jobs.size === 0 || this.threads.length >= this.size)) return least;
    const fresh = new Thread();
    this.threads.push(fresh);
    return fresh;
  }

  /** Stops every thread; what they were extracting fails (the package cache then extracts from the file). */
  async close(): Promise<void> {
    const threads = this.threads.splice(0);
    for (const t of threads) t.die('the extraction threads were stopped');
    await Promise.all(threads.map((t) => t.stopped));
  }

  /** Starts extracting into `dest` (made by the thread; it must not exist) what is written to the returned tap. */
  extract(dest: string, pkg: string, options: { maxBytes?: number; archiveSize?: number; md5?: boolean }): ThreadExtraction {
    const thread = this.thread();
    const id = this.nextId++;
    let settle!: Job['settle'];
    const result = new Promise<Digests>((resolve, reject) => (settle = (err, digests) => (err ? reject(err) : resolve(digests as Digests))));
    result.catch(() => undefined); // the caller awaits it; an early failure must not go unhandled meanwhile
    let onHashed!: Job['onHashed'];
    const hashed = new Promise<TapHash | undefined>((resolve) => (onHashed = resolve));
    const job: Job = { pkg, settle, onHashed, inFlight: 0 };
    thread.jobs.set(id, job);
    thread.worker.ref();
    thread.post({ type: 'start', id, dest, pkg, maxBytes: options.maxBytes, archiveSize: options.archiveSize, md5: options.md5 });
    const live = (): boolean => thread.jobs.has(id);
    const tap = new Writable({
      highWaterMark: 1 << 20,
      write(chunk: Buffer, _enc, callback) {
        if (!live()) {
          callback(); // over (a failure is in `result`): the download goes on without it
          return;
        }
        // The bytes handed over: the chunk's own buffer when it is all of it (the download gives
        // each chunk to the tap last, once hashed and written), else a copy of exactly these bytes.
        const whole = chunk.byteOffset === 0 && chunk.byteLength === chunk.buffer.byteLength && chunk.buffer instanceof ArrayBuffer;
        const data = whole ? chunk.buffer : (chunk.buffer.slice(chunk.byteOffset, chunk.byteOffset + chunk.byteLength) as ArrayBuffer);
        job.inFlight += data.byteLength;
        thread.post({ type: 'chunk', id, data }, [data]);
        if (job.inFlight < IN_FLIGHT) callback();
        else job.resume = () => callback();
      },
      final(callback) {
        if (live()) thread.post({ type: 'end', id });
        else onHashed(undefined);
        callback();
      },
      destroy(err, callback) {
        // Destroyed before its end (a failed or discarded download): the thread stops. After its end
        // (the stream closing itself), the thread finishes what it was sent.
        if (!this.writableFinished) {
          onHashed(undefined);
          if (live()) thread.post({ type: 'abort', id, message: err?.message ?? 'the download stopped' });
        }
        callback(err);
      },
    });
    return { tap: Object.assign(tap, { hashed: () => hashed }), result };
  }
}

let shared: ExtractPool | undefined;

/** The process's extraction threads, started as needed; undefined when GITENV_EXTRACT_THREADS is 0. */
export function sharedExtractPool(): ExtractPool | undefined {
  const size = extractThreads();
  if (size === 0) return undefined;
  shared ??= new ExtractPool(size);
  return shared;
}
