import { zstdCompress } from '../fixtures/channel/index.js';
import { ShardRecords } from '../../src/solver/shard-records.js';

/** A minimal MessagePack encoder for the test's shard: maps, strings, binary. */
function pack(v: unknown): Buffer {
  if (typeof v === 'string') {
    const s = Buffer.from(v);
    return Buffer.concat([Buffer.from([0xd9, s.length]), s]);
  }
  if (v instanceof Uint8Array) return Buffer.concat([Buffer.from([0xc4, v.length]), v]);
  const entries = Object.entries(v as Record<string, unknown>);
  return Buffer.concat([Buffer.from([0x80 | entries.length]), ...entries.flatMap(([k, x]) => [pack(k), pack(x)])]);
}

const sha = Buffer.alloc(32, 0xab);
const shard = pack({ packages: { 'a-1.0-0.tar.bz2': { name: 'a', version: '1.0', build: '0', license: 'MIT', sha256: sha } }, 'packages.conda': {} });
const url = 'https://example.invalid/chan/linux-64/shards/' + 'f'.repeat(64) + '.msgpack.zst';

test('the records of a shard, hashes as hex, found by channel and subdir', () => {
  const records = new ShardRecords();
  records.add(url, zstdCompress(shard));
  expect(records.record('https://example.invalid/chan', 'linux-64', 'a-1.0-0.tar.bz2')).toMatchObject({ name: 'a', license: 'MIT', sha256: 'ab'.repeat(32) });
  expect(records.record('https://example.invalid/other', 'linux-64', 'a-1.0-0.tar.bz2')).toBeUndefined();
});

test('a zstd bomb, a frame without a declared size and garbage are skipped, never decoded', () => {
  const records = new ShardRecords();
  // A frame header declaring 2^40 bytes of content (8-byte Frame_Content_Size, single segment), then a raw block.
  const bomb = Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0xe0, 0, 0, 0, 0, 0, 1, 0, 0, 0x01, 0, 0]);
  const start = process.memoryUsage().rss;
  records.add(url, bomb);
  expect(process.memoryUsage().rss - start).toBeLessThan(64 * 1024 * 1024);
  // No Frame_Content_Size: descriptor 0 (window descriptor follows), one empty raw block.
  records.add(url, Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0x00, 0x50, 0x01, 0, 0]));
  records.add(url, Buffer.from('not zstd at all'));
  records.add(url, zstdCompress(Buffer.from([0xc1])));
  expect(records.record('https://example.invalid/chan', 'linux-64', 'a-1.0-0.tar.bz2')).toBeUndefined();
});

test('with the sharded index seen, only the shard of the package asked for is decoded', () => {
  const records = new ShardRecords();
  const base = 'https://example.invalid/chan/linux-64';
  const hashA = 'a'.repeat(64);
  const hashB = 'b'.repeat(64);
  const index = Buffer.concat([Buffer.from([0x81]), pack('shards'), Buffer.from([0x82]), pack('a'), pack(Buffer.from(hashA, 'hex')), pack('b'), pack(Buffer.from(hashB, 'hex'))]);
  records.addIndex(`${base}/repodata_shards.msgpack.zst`, zstdCompress(index));
  records.add(`${base}/shards/${hashA}.msgpack.zst`, zstdCompress(shard));
  records.add(`${base}/shards/${hashB}.msgpack.zst`, zstdCompress(pack({ packages: {}, 'packages.conda': { 'b-1-0.conda': { name: 'b', version: '1', build: '0' } } })));
  expect(records.undecoded).toBe(2);
  expect(records.record('https://example.invalid/chan', 'linux-64', 'a-1.0-0.tar.bz2', 'a')).toMatchObject({ name: 'a', license: 'MIT' });
  expect(records.undecoded).toBe(1);
  // A file the index does not place: every shard kept is read.
  expect(records.record('https://example.invalid/chan', 'linux-64', 'b-1-0.conda')).toMatchObject({ name: 'b', version: '1' });
  expect(records.record('https://example.invalid/chan', 'linux-64', 'c-1-0.conda', 'c')).toBeUndefined();
  expect(records.undecoded).toBe(0);
});
