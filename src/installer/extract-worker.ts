/**
 * The thread side of extraction while downloading (extract-pool.ts): the main thread downloads and
 * writes an archive and hands its bytes over as they come; here they are hashed (for the main thread
 * to verify against the lock) and go through extract.ts's
 * extractCondaStream (the zip's local headers, zstd, the tar, every check, the files written and
 * hashed), so that the main thread's work and the extractions of several packages use every core.
 * What this thread writes counts only once the main thread has matched the whole archive against
 * the lock, exactly as when the extraction runs in the main thread.
 */
import { createHash, type Hash } from 'node:crypto';
import fs from 'node:fs/promises';
import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import { extractCondaStream, RefusedArchive } from './extract.js';

/** The flag in `workerData` that turns a bundle loaded in a thread into an extraction thread. */
export const EXTRACT_WORKER_FLAG = 'gitenvExtractWorker';

export type ToExtractWorker =
  | { type: 'start'; id: number; dest: string; pkg: string; maxBytes?: number; archiveSize?: number; md5?: boolean }
  | { type: 'chunk'; id: number; data: ArrayBuffer }
  | { type: 'end'; id: number }
  | { type: 'abort'; id: number; message: string };

export type FromExtractWorker =
  | { type: 'taken'; id: number; bytes: number }
  /** Every byte sent before `end`, hashed as it arrived (the main thread verifies it against the lock). */
  | { type: 'hashed'; id: number; sha256: string; md5?: string; size: number }
  | { type: 'done'; id: number; digests: [string, { sha256: string; size: number; mode: number }][] }
  /**
   * `refused`: the archive's contents were refused (`message` is the reason alone); the thread goes
   * on hashing the rest of its bytes, acknowledges them, and says `hashed` at the end, for the
   * download to verify what was refused.
   */
  | { type: 'failed'; id: number; message: string; refused?: boolean }
  | { type: 'crashed'; reason: string };

/** True in a thread the extraction pool started (the entries check this before running anything). */
export function inExtractWorker(): boolean {
  return !isMainThread && (workerData as Record<string, unknown> | null)?.[EXTRACT_WORKER_FLAG] === true;
}

/**
 * The bytes of one archive as they arrive, read by extractCondaStream. `taken` is told each chunk's
 * size when the reader takes it: the main thread sends more only as the reader keeps up.
 */
export class ChunkQueue implements AsyncIterable<Buffer> {
  private readonly chunks: Buffer[] = [];
  private ended = false;
  private error: Error | undefined;
  private closed = false;
  private abandoned = false;
  private waiter: (() => void) | undefined;

  constructor(private readonly taken: (bytes: number) => void) {}

  push(chunk: Buffer): void {
    // The reader stopped early (the tar's end, a refusal): what follows is only acknowledged.
    if (this.closed) this.taken(chunk.length);
    else this.chunks.push(chunk);
    this.wake();
  }

  end(): void {
    this.ended = true;
    this.wake();
  }

  get isAbandoned(): boolean {
    return this.abandoned;
  }

  /** The reader is gone (its extraction failed): what is here and what comes is only acknowledged. */
  abandon(): void {
    this.abandoned = true;
    this.closed = true;
    for (const c of this.chunks.splice(0)) this.taken(c.length);
  }

  fail(err: Error): void {
    this.error = err;
    this.wake();
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = undefined;
    w?.();
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<Buffer> {
    try {
      for (;;) {
        if (this.error) throw this.error;
        const chunk = this.chunks.shift();
        if (chunk) {
          this.taken(chunk.length);
          yield chunk;
          continue;
        }
        if (this.ended) return;
        await new Promise<void>((resolve) => (this.waiter = resolve));
      }
    } finally {
      this.closed = true;
      for (const c of this.chunks.splice(0)) this.taken(c.length);
    }
  }
}

/** Serves extractions until the main thread lets the thread go. */
export function serveExtractions(): void {
  const port = parentPort;
  if (!port) return;
  const jobs = new Map<number, ChunkQueue>();
  // Each archive is hashed as its chunks arrive, whatever its extraction does meanwhile.
  const hashes = new Map<number, { sha256: Hash; md5?: Hash; size: number }>();
  port.on('message', (msg: ToExtractWorker) => {
    switch (msg.type) {
      case 'start': {
        const id = msg.id;
        hashes.set(id, { sha256: createHash('sha256'), md5: msg.md5 ? createHash('md5') : undefined, size: 0 });
        const queue = new ChunkQueue((bytes) => port.postMessage({ type: 'taken', id, bytes } satisfies FromExtractWorker));
        jobs.set(id, queue);
        const { dest, pkg, maxBytes, archiveSize } = msg;
        fs.mkdir(dest, { mode: 0o755 })
          .then(() => extractCondaStream(queue, dest, pkg, { maxBytes, archiveSize, syncWrites: true }))
          .then(
            (digests) => {
              jobs.delete(id);
              port.postMessage({ type: 'done', id, digests: [...digests] } satisfies FromExtractWorker);
            },
            (err: unknown) => {
              queue.abandon();
              if (err instanceof RefusedArchive) {
                // Kept until its end (or abort): the rest of the bytes are hashed and acknowledged.
                port.postMessage({ type: 'failed', id, message: err.reason, refused: true } satisfies FromExtractWorker);
                return;
              }
              jobs.delete(id);
              hashes.delete(id);
              port.postMessage({ type: 'failed', id, message: err instanceof Error ? err.message : String(err) } satisfies FromExtractWorker);
            },
          );
        return;
      }
      case 'chunk': {
        const chunk = Buffer.from(msg.data);
        const hash = hashes.get(msg.id);
        if (hash) {
          hash.sha256.update(chunk);
          hash.md5?.update(chunk);
          hash.size += chunk.length;
        }
        jobs.get(msg.id)?.push(chunk);
        return;
      }
      case 'end': {
        const hash = hashes.get(msg.id);
        hashes.delete(msg.id);
        if (hash) port.postMessage({ type: 'hashed', id: msg.id, sha256: hash.sha256.digest('hex'), md5: hash.md5?.digest('hex'), size: hash.size } satisfies FromExtractWorker);
        const queue = jobs.get(msg.id);
        // A refused extraction was only waiting for this end.
        if (queue?.isAbandoned) jobs.delete(msg.id);
        queue?.end();
        return;
      }
      case 'abort': {
        hashes.delete(msg.id);
        const queue = jobs.get(msg.id);
        if (queue?.isAbandoned) jobs.delete(msg.id);
        queue?.fail(new Error(msg.message));
        return;
      }
    }
  });
}
