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
