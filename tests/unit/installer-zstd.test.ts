import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { createZstdDecompressor, decompressWhole, hasNativeZstd, MAX_ZSTD_WINDOW, zstdFrameContentSize, zstdFrameWindow } from '../../src/installer/zstd.js';
import { decompressZstd } from '../../src/util/zstd.js';
import { zstdCompress, zstdRepeatedByte } from '../fixtures/channel/index.js';
import { runs, testWithTool } from '../fixtures/tools.js';

const data = Buffer.from(Array.from({ length: 700_000 }, (_, i) => (i * 31 + (i >> 9)) % 256));

/** Streams through Node's own decoder (the runtime's, as shipped) and through the fzstd fallback (Node 20): both must agree. */
async function stream(compressed: Buffer): Promise<Buffer> {
  const results: Buffer[] = [];
  for (const fallback of [false, true]) {
    const chunks: Buffer[] = [];
    // Small chunks: the decoder must carry state across them.
    const parts = Array.from({ length: Math.ceil(compressed.length / 1000) }, (_, i) => compressed.subarray(i * 1000, (i + 1) * 1000));
    for await (const c of Readable.from(parts).pipe(createZstdDecompressor({ fallback }))) chunks.push(c as Buffer);
    results.push(Buffer.concat(chunks));
  }
  expect(results[1].equals(results[0])).toBe(true);
  return results[0];
}

test("the tests run on the runners' Node, whose own zstd is the production path", () => {
  // .node-version names the runtime the actions ship on (node24); npm test and .ci/run use it.
  const major = Number(process.versions.node.split('.')[0]);
  expect(major).toBeGreaterThanOrEqual(24);
  expect(hasNativeZstd()).toBe(true);
  expect(createZstdDecompressor().constructor.name).not.toBe('FzstdTransform');
});

/**
 * The reference zstd CLI (.ci/run installs it). From a file it writes the
 * content size into the frame header; from a pipe it cannot.
 */
function referenceZstd(input: Buffer, args: string[], from: 'file' | 'pipe' = 'file'): Buffer | undefined {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gitenv-zstd-'));
  try {
    const file = path.join(dir, 'data');
    fs.writeFileSync(file, input);
    return from === 'file' ? execFileSync('zstd', [...args, '-c', '-q', file], { maxBuffer: 64 << 20 }) : execFileSync('zstd', [...args, '-c', '-q'], { input, maxBuffer: 64 << 20 });
  } catch {
    return undefined;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

test('frames from the fixture builder: size read from the header, whole and streamed decoding agree', async () => {
  const compressed = zstdCompress(data);
  expect(zstdFrameContentSize(compressed)).toBe(data.length);
  expect(decompressWhole(compressed, 1 << 30)?.equals(data)).toBe(true);
  expect((await stream(compressed)).equals(data)).toBe(true);
});

testWithTool('zstd', runs('zstd', ['--version']))('frames from the reference zstd tool decode the same both ways', async () => {
  const compressed = referenceZstd(data, ['-19']) as Buffer;
  expect(zstdFrameContentSize(compressed)).toBe(data.length);
  const whole = decompressWhole(compressed, 1 << 30);
  expect(whole?.equals(data)).toBe(true);
  expect((await stream(compressed)).equals(data)).toBe(true);
  // Compressed from a pipe, the frame has no size: only the streaming path decodes it.
  const piped = referenceZstd(data, ['-19'], 'pipe') as Buffer;
  expect(zstdFrameContentSize(piped)).toBeUndefined();
  expect(decompressWhole(piped, 1 << 30)).toBeUndefined();
  expect((await stream(piped)).equals(data)).toBe(true);
});

test('a frame declaring more than the limit is left to the streaming path', () => {
  const bomb = zstdRepeatedByte(0, 50_000_000);
  expect(zstdFrameContentSize(bomb)).toBe(50_000_000);
  expect(decompressWhole(bomb, 1_000_000)).toBeUndefined();
});

test('garbage and a frame cut short: never stale memory', () => {
  const compressed = zstdCompress(data);
  const cut = decompressWhole(compressed.subarray(0, compressed.length - 100), 1 << 30);
  // Either refused or zero-filled where the data is missing, as the tar parser will then see.
  if (cut) expect(cut.subarray(data.length - 50).every((b) => b === 0)).toBe(true);
  expect(decompressWhole(Buffer.from('not zstd at all'), 1 << 30)).toBeUndefined();
  expect(zstdFrameContentSize(Buffer.alloc(3))).toBeUndefined();
});

test('the window a frame asks for: its content size in one segment, else its window descriptor', () => {
  const magic = [0x28, 0xb5, 0x2f, 0xfd];
  // single segment, 8-byte content size of 1 GB: what fzstd would allocate, over what decoders accept
  const single = Buffer.from([...magic, 0xe0, 0, 0, 0, 0, 0, 0, 0, 0]);
  single.writeBigUInt64LE(1_000_000_000n, 5);
  expect(zstdFrameWindow(single)).toBe(1_000_000_000);
  expect(zstdFrameWindow(single)).toBeGreaterThan(MAX_ZSTD_WINDOW);
  // no content size, window descriptor 2^23 (8 MiB) and 2^23 + 3/8 of it
  expect(zstdFrameWindow(Buffer.from([...magic, 0x00, 13 << 3]))).toBe(2 ** 23);
  expect(zstdFrameWindow(Buffer.from([...magic, 0x00, (13 << 3) | 3]))).toBe(2 ** 23 + 3 * 2 ** 20);
  expect(zstdFrameWindow(Buffer.from('not zstd'))).toBeUndefined();
});

test("whole buffers (the solver's repodata.json.zst): Node's own zstd and the fzstd fallback agree", () => {
  const compressed = referenceZstd(data, ['-19']) ?? zstdCompress(data);
  expect(Buffer.from(decompressZstd(compressed)).equals(data)).toBe(true);
  expect(Buffer.from(decompressZstd(compressed, { fallback: true })).equals(data)).toBe(true);
});
