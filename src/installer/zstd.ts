import { Transform, type TransformCallback } from 'node:stream';
import zlib from 'node:zlib';
import { Decompress, decompress } from 'fzstd';

/** Output piece of Node's own decompressor. */
const NATIVE_CHUNK = 256 << 10;

/**
 * A streaming zstd decompressor: Node's own (zlib.createZstdDecompress, Node >= 22.15, so the
 * runners' node24 and the tests) when present, the pure-JS fzstd otherwise (the CLI on Node 20).
 * `fallback` forces fzstd, for the tests of that path.
 */
export function createZstdDecompressor(options: { fallback?: boolean } = {}): Transform {
  const native = (zlib as unknown as { createZstdDecompress?: (o: { chunkSize: number }) => Transform }).createZstdDecompress;
  // Output in 256 KiB pieces rather than zlib's 16 KiB: a sixteenth of the callbacks and buffers
  // (each a main-thread round trip and garbage to collect) for the same bytes.
  if (typeof native === 'function' && !options.fallback) return native({ chunkSize: NATIVE_CHUNK });
  return new FzstdTransform();
}

/** Input is given to fzstd in slices of at most this much, */
const SLICE_MAX = 64 << 10;
/** and of as little as this when a slice decodes to more than BURST (long runs, RLE blocks), */
const SLICE_MIN = 256;
const BURST = 8 << 20;

/**
 * fzstd as a stream that respects its reader: one input chunk of a few bytes may decode to gigabytes
 * (RLE blocks), which fzstd would produce in one synchronous call. Fed in slices, it stops between two
 * while the reader's buffer is full, and for good when the reader is gone (the end of a tar was reached).
 */
class FzstdTransform extends Transform {
  private readonly decoder: Decompress;
  private produced = 0;
  private slice = SLICE_MIN; // grows while slices decode to little
  private waiting: (() => void) | undefined;

  constructor() {
    super();
    this.decoder = new Decompress((data) => {
      // Each block is a fresh array (or a slice of an input chunk, never reused): no copy needed.
      if (data.length > 0) {
        this.produced += data.length;
        this.push(Buffer.from(data.buffer, data.byteOffset, data.length));
      }
    });
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, callback: TransformCallback): void {
    let at = 0;
    const step = (): void => {
      try {
        while (at < chunk.length) {
          if (this.destroyed) return;
          const end = Math.min(chunk.length, at + this.slice);
          const before = this.produced;
          this.decoder.push(new Uint8Array(chunk.buffer, chunk.byteOffset + at, end - at));
          at = end;
          this.slice = this.produced - before > BURST ? Math.max(SLICE_MIN, this.slice >> 4) : Math.min(SLICE_MAX, this.slice * 2);
          if (at < chunk.length && this.readableLength >= this.readableHighWaterMark) {
            this.waiting = step; // resumed by the next read
            return;
          }
        }
        callback();
      } catch (err) {
        callback(err as Error);
      }
    };
    step();
  }

  override _read(size: number): void {
    const resume = this.waiting;
    this.waiting = undefined;
    if (resume) process.nextTick(resume);
    super._read(size);
  }

  override _flush(callback: TransformCallback): void {
    try {
      this.decoder.push(new Uint8Array(0), true);
      callback();
    } catch (err) {
      callback(err as Error);
    }
  }
}

/** True when Node decompresses zstd itself (then streaming is fast and nothing else is needed). */
export function hasNativeZstd(): boolean {
  return typeof (zlib as unknown as { createZstdDecompress?: unknown }).createZstdDecompress === 'function';
}

/** What zstd decoders accept by default (ZSTD_WINDOWLOG_LIMIT_DEFAULT, 2^27), Node's own included. */
export const MAX_ZSTD_WINDOW = 2 ** 27;

/**
 * The window the first frame asks of its decoder: its content size for a single-segment frame (which
 * fzstd allocates whole), else what its window descriptor says; undefined without a frame header.
 */
export function zstdFrameWindow(buf: Uint8Array): number | undefined {
  if (buf.length < 6 || buf[0] !== 0x28 || buf[1] !== 0xb5 || buf[2] !== 0x2f || buf[3] !== 0xfd) return undefined;
  if ((buf[4] >> 5) & 1) return zstdFrameContentSize(buf);
  const exponent = buf[5] >> 3;
  const base = 2 ** (10 + exponent);
  return base + (base / 8) * (buf[5] & 7);
}

/** The content size the first frame's header declares, or undefined when it declares none. */
export function zstdFrameContentSize(buf: Uint8Array): number | undefined {
  if (buf.length < 6 || buf[0] !== 0x28 || buf[1] !== 0xb5 || buf[2] !== 0x2f || buf[3] !== 0xfd) return undefined;
  const descriptor = buf[4];
  const fcsFlag = descriptor >> 6;
  const singleSegment = (descriptor >> 5) & 1;
  const at = 5 + (singleSegment ? 0 : 1) + [0, 1, 2, 4][descriptor & 3];
  const size = fcsFlag === 0 ? singleSegment : [0, 2, 4, 8][fcsFlag];
  if (size === 0 || at + size > buf.length) return undefined;
  const view = Buffer.from(buf.buffer, buf.byteOffset + at, size);
  if (size === 1) return view[0];
  if (size === 2) return view.readUInt16LE(0) + 256;
  if (size === 4) return view.readUInt32LE(0);
  const big = view.readBigUInt64LE(0);
  return big > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(big);
}

/**
 * Decompresses a whole zstd buffer in one call, which fzstd does several times faster than streaming
 * (its stream copies its window for every block). Only when the frame declares its size and that size
 * is at most `limit` (fzstd then allocates exactly that, zero-filled, and decodes into it: a frame lying
 * about its size yields a short or zero-padded tar, which the tar parser and the paths.json checks
 * refuse); undefined otherwise, and the caller streams. (Given an output buffer of its own, fzstd
 * compares it with a number, turning the whole input into a string: slower, not safer.)
 */
export function decompressWhole(buf: Uint8Array, limit: number): Buffer | undefined {
  const size = zstdFrameContentSize(buf);
  if (size === undefined || size > limit) return undefined;
  try {
    const out = decompress(buf);
    return Buffer.from(out.buffer, out.byteOffset, out.length);
  } catch {
    return undefined;
  }
}
