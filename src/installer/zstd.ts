import { Transform, type TransformCallback } from 'node:stream';
import zlib from 'node:zlib';
import { Decompress, decompress } from 'fzstd';

/**
 * A streaming zstd decompressor: Node's own (zlib.createZstdDecompress, Node >= 22.15, so the
 * runners' node24 and the tests) when present, the pure-JS fzstd otherwise (the CLI on Node 20).
 * `fallback` forces fzstd, for the tests of that path.
 */
export function createZstdDecompressor(options: { fallback?: boolean } = {}): Transform {
  const native = (zlib as unknown as { createZstdDecompress?: () => Transform }).createZstdDecompress;
  if (typeof native === 'function' && !options.fallback) return native();
  return new FzstdTransform();
}

class FzstdTransform extends Transform {
  private readonly decoder: Decompress;

  constructor() {
    super();
    this.decoder = new Decompress((data) => {
      // Each block is a fresh array (or a slice of an input chunk, never reused): no copy needed.
      if (data.length > 0) this.push(Buffer.from(data.buffer, data.byteOffset, data.length));
    });
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, callback: TransformCallback): void {
    try {
      this.decoder.push(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.length));
      callback();
    } catch (err) {
      callback(err as Error);
    }
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
