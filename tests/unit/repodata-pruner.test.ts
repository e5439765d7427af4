import { decompress } from 'fzstd';
import zlib from 'node:zlib';
import { ParsedRepodata, reachableNames } from '../../src/solver/repodata-pruner.js';
import { joinPieces, zstdStored } from '../../src/solver/zstd-stored.js';
import { decompressZstd, frameContentSize } from '../../src/util/zstd.js';

const rec = (name: string, version: string, depends: string[] = [], constrains: string[] = []) => ({ name, version, build: '0', build_number: 0, depends, constrains });

const linux = new ParsedRepodata({
  info: { subdir: 'linux-64' },
  repodata_version: 1,
  packages: { 'zlib-1.2-0.tar.bz2': rec('zlib', '1.2') },
  'packages.conda': {
    'python-3.11-0.conda': rec('python', '3.11', ['__glibc >=2.17', 'zlib >=1.2', 'openssl']),
    'python-2.7-0.conda': rec('python', '2.7', ['readline']),
    'openssl-3-0.conda': rec('openssl', '3', ['ca-certificates']),
    'readline-8-0.conda': rec('readline', '8'),
    'numpy-2-0.conda': rec('numpy', '2', ['python >=3.9'], ['scipy >=1']),
    'scipy-1-0.conda': rec('scipy', '1', ['numpy']),
    'unrelated-1-0.conda': rec('unrelated', '1', ['zlib']),
  },
});
const noarch = new ParsedRepodata({ info: { subdir: 'noarch' }, packages: {}, 'packages.conda': { 'ca-certificates-1-0.conda': rec('ca-certificates', '1') } });

test('reachable names follow the dependencies of every record of a name, across subdirs, not constrains', () => {
  const names = reachableNames(['numpy >=2', 'conda-forge::python 3.*'], [linux, noarch]);
  expect([...(names ?? [])].sort()).toEqual(['ca-certificates', 'numpy', 'openssl', 'python', 'readline', 'zlib']);
});

test('a glob in a spec name turns pruning off', () => {
  expect(reachableNames(['py*'], [linux])).toBeUndefined();
});

test('pruned repodata keeps info, the tables and only the reachable records', () => {
  const pruned = JSON.parse(Buffer.from(linux.pruned(new Set(['python', 'zlib']))).toString('utf8'));
  expect(pruned.info).toEqual({ subdir: 'linux-64' });
  expect(Object.keys(pruned.packages)).toEqual(['zlib-1.2-0.tar.bz2']);
  expect(Object.keys(pruned['packages.conda']).sort()).toEqual(['python-2.7-0.conda', 'python-3.11-0.conda']);
  expect(pruned['packages.conda']['python-3.11-0.conda']).toEqual(rec('python', '3.11', ['__glibc >=2.17', 'zlib >=1.2', 'openssl']));
  const bare = new ParsedRepodata({ 'packages.conda': { 'a-1-0.conda': rec('a', '1') } });
  expect(JSON.parse(Buffer.from(bare.pruned(new Set(['a']))).toString('utf8'))).toEqual({ packages: {}, 'packages.conda': { 'a-1-0.conda': rec('a', '1') } });
  expect(linux.record('zlib-1.2-0.tar.bz2')?.version).toBe('1.2');
});

test('zstdStored writes frames any zstd decoder reads (empty, one block, many blocks)', () => {
  for (const size of [0, 1, 1000, 128 * 1024, 300_001]) {
    const content = new Uint8Array(size).map((_, i) => (i * 31) & 0xff);
    expect(Buffer.from(decompress(zstdStored(content))).equals(Buffer.from(content))).toBe(true);
  }
});

test('joinPieces: one buffer of its own, the same bytes as joining then framing (zstdStored), framed or plain', () => {
  const piece = (i: number): string => `"f-${i}-0.conda":{"name":"f","version":"${i}","build":"0","note":"caf\u00e9 \u2603"}`;
  for (const count of [0, 1, 50, 2000, 7001]) {
    const pieces = Array.from({ length: count }, (_, i) => piece(i));
    const plain = Buffer.from(pieces.join(''));
    const framed = joinPieces(pieces, true);
    expect(Buffer.from(framed).equals(Buffer.from(zstdStored(plain)))).toBe(true);
    expect(Buffer.from(decompress(framed)).equals(plain)).toBe(true);
    const bytes = joinPieces(pieces, false);
    expect(Buffer.from(bytes).equals(plain)).toBe(true);
    // Its own buffer: handed to a solver thread as it is (transferred), never a slice of a shared pool.
    for (const b of [framed, bytes]) expect([b.byteOffset, b.buffer.byteLength]).toEqual([0, b.length]);
  }
});

test('pruned repodata as zstd (the solver asked for .zst) is the same JSON as plain, framed', () => {
  const json = Buffer.from(linux.pruned(new Set(['python', 'zlib'])));
  const zst = linux.pruned(new Set(['python', 'zlib']), undefined, undefined, { zstd: true });
  expect(Buffer.from(decompress(zst)).equals(json)).toBe(true);
  expect(JSON.parse(json.toString()).packages['zlib-1.2-0.tar.bz2'].version).toBe('1.2');
});

test('frameContentSize reads a zstd frame header: 1, 2, 4 or 8 bytes, and none when the frame does not say', () => {
  const compress = (zlib as unknown as { zstdCompressSync: (b: Uint8Array, o?: object) => Buffer }).zstdCompressSync;
  for (const size of [0, 5, 255, 256, 300, 70_000, 5_000_000]) expect(frameContentSize(compress(Buffer.alloc(size, 7)))).toBe(size);
  // A stream written without its size (as the conda-forge-sized fixture's .zst is), and what is not zstd at all.
  const streamed = Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0x00, 0x58]);
  expect(frameContentSize(streamed)).toBeUndefined();
  expect(frameContentSize(Buffer.from('{"packages":{}}'))).toBeUndefined();
  // A large body is decompressed whole, however its frame says its size.
  const big = Buffer.from(JSON.stringify({ packages: {}, pad: 'x'.repeat(3_000_000) }));
  expect(Buffer.from(decompressZstd(compress(big))).equals(big)).toBe(true);
});
