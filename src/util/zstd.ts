import zlib from 'node:zlib';
import { decompress } from 'fzstd';

type ZstdSync = (buf: Uint8Array) => Buffer;

/**
 * A whole zstd buffer decompressed: by Node's own zstd (zlib.zstdDecompressSync, Node >= 22.15: the
 * runners' node24 and the tests), by the pure-JS fzstd on Node 20 (the CLI there).
 */
export function decompressZstd(buf: Uint8Array, options: { fallback?: boolean } = {}): Uint8Array {
  const native = (zlib as unknown as { zstdDecompressSync?: ZstdSync }).zstdDecompressSync;
  if (typeof native === 'function' && !options.fallback) return native(buf);
  return decompress(buf);
}
