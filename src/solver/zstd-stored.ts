/**
 * A zstd frame holding its content uncompressed (raw blocks): what gitenv hands the WASM solver
 * when it asked for `repodata.json.zst` and gets a pruned repodata instead. Any zstd decoder reads it.
 */
const MAGIC = 0xfd2fb528;
/** Block_Maximum_Size: 128 KiB. */
const MAX_BLOCK = 128 * 1024;

export function zstdStored(content: Uint8Array): Uint8Array {
  const blocks = Math.max(1, Math.ceil(content.length / MAX_BLOCK));
  const out = new Uint8Array(4 + 1 + 8 + blocks * 3 + content.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, MAGIC, true);
  // Frame_Header_Descriptor: 8-byte Frame_Content_Size, Single_Segment (no window descriptor), no checksum, no dictionary.
  out[4] = 0xe0;
  view.setBigUint64(5, BigInt(content.length), true);
  let at = 13;
  for (let i = 0; i < blocks; i++) {
    const start = i * MAX_BLOCK;
    const size = Math.min(MAX_BLOCK, content.length - start);
    const last = i === blocks - 1 ? 1 : 0;
    const header = last | (0 << 1) | (size << 3); // Block_Type 0: raw
    out[at] = header & 0xff;
    out[at + 1] = (header >>> 8) & 0xff;
    out[at + 2] = (header >>> 16) & 0xff;
    out.set(content.subarray(start, start + size), at + 3);
    at += 3 + size;
  }
  return out;
}

/**
 * The UTF-8 bytes of `pieces`, one after another, in one buffer of its own (never a pooled slice:
 * it can be handed to another thread as it is); with `framed`, as `zstdStored` would frame them,
 * without a second copy: the content is written at the end of the buffer, then each block moved
 * down to make room for its header.
 */
export function joinPieces(pieces: readonly string[], framed: boolean): Uint8Array {
  // Joined a few hundred at a time: one write per piece costs more than the pieces, and strings
  // of tens of kB die young (a string of megabytes would wait for a full garbage collection).
  const groups: string[] = [];
  for (let i = 0; i < pieces.length; i += 256) groups.push(pieces.slice(i, i + 256).join(''));
  let length = 0;
  for (const g of groups) length += Buffer.byteLength(g, 'utf8');
  const blocks = Math.max(1, Math.ceil(length / MAX_BLOCK));
  const start = framed ? 4 + 1 + 8 + blocks * 3 : 0;
  const out = new Uint8Array(start + length);
  const buf = Buffer.from(out.buffer, out.byteOffset, out.byteLength);
  let at = start;
  for (const g of groups) at += buf.write(g, at, 'utf8');
  if (!framed) return out;
  const view = new DataView(out.buffer);
  view.setUint32(0, MAGIC, true);
  out[4] = 0xe0;
  view.setBigUint64(5, BigInt(length), true);
  // Block i moves from start + i * MAX_BLOCK down to 13 + i * (MAX_BLOCK + 3): never over a block not yet moved.
  for (let i = 0; i < blocks; i++) {
    const from = start + i * MAX_BLOCK;
    const size = Math.min(MAX_BLOCK, length - i * MAX_BLOCK);
    const to = 13 + i * (MAX_BLOCK + 3);
    const header = (i === blocks - 1 ? 1 : 0) | (size << 3);
    out[to] = header & 0xff;
    out[to + 1] = (header >>> 8) & 0xff;
    out[to + 2] = (header >>> 16) & 0xff;
    out.copyWithin(to + 3, from, from + size);
  }
  return out;
}
