import zlib from 'node:zlib';
import { decompress } from 'fzstd';

type ZstdSync = (buf: Uint8Array, options?: { chunkSize?: number }) => Buffer;

/**
 * The output chunk for a large body: its size when the frame says it, else eight times the input
 * (more than repodata's ratio), and never under glibc's largest mmap threshold (32 MB). So the
 * body is one chunk, its own mapping (pages never written are never resident), given back to the
 * system when freed; with the default 16 KB chunks a 300 MB body leaves its size behind in the
 * allocator's heap, resident for the rest of the run.
 */
function largeChunk(buf: Uint8Array): number {
  return Math.max(64 * 1024 * 1024, Math.min(frameContentSize(buf) ?? buf.length * 8, 2 ** 31 - 1));
}

/** Frame_Content_Size from a zstd frame header, when it is there (RFC 8878, 3.1.1.1). */
export function frameContentSize(buf: Uint8Array): number | undefined {
  if (buf.length < 6 || buf[0] !== 0x28 || buf[1] !== 0xb5 || buf[2] !== 0x2f || buf[3] !== 0xfd) return undefined;
  const descriptor = buf[4];
  const fcsFlag = descriptor >> 6;
  const singleSegment = (descriptor >> 5) & 1;
  const dictionaryBytes = [0, 1, 2, 4][descriptor & 3];
  const fcsBytes = [singleSegment ? 1 : 0, 2, 4, 8][fcsFlag];
  if (fcsBytes === 0) return undefined;
  const at = 5 + (singleSegment ? 0 : 1) + dictionaryBytes;
  if (buf.length < at + fcsBytes) return undefined;
  let size = 0;
  for (let i = fcsBytes - 1; i >= 0; i--) size = size * 256 + buf[at + i];
  return fcsBytes === 2 ? size + 256 : size;
}

/**
 * A whole zstd buffer decompressed: by Node's own zstd (zlib.zstdDecompressSync, Node >= 22.15: the
 * runners' node24 and the tests), by the pure-JS fzstd on Node 20 (the CLI there).
 */
export function decompressZstd(buf: Uint8Array, options: { fallback?: boolean } = {}): Uint8Array {
  const native = (zlib as unknown as { zstdDecompressSync?: ZstdSync }).zstdDecompressSync;
  if (typeof native === 'function' && !options.fallback) return buf.length >= 1024 * 1024 ? native(buf, { chunkSize: largeChunk(buf) }) : native(buf);
  return decompress(buf);
}
