import { zstdCompress } from '../fixtures/channel/index.js';
import { ShardRecords } from '../../src/solver/shard-records.js';
import { inflateBounded, readShard, readShardIndex, repodataOfShards } from '../../src/solver/shard-loader.js';
import { SOLVER_FIELDS } from '../../src/solver/repodata-pruner.js';

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

describe('shard-loader: sharded repodata read on gitenv side', () => {
  const hash = (c: number): Buffer => Buffer.alloc(32, c);
  const indexUrl = 'https://example.invalid/chan/linux-64/repodata_shards.msgpack.zst';

  test('an index: shard URLs under shards_base_url (relative or absolute), base_url kept; a bad hash or body refuses it', () => {
    const relative = readShardIndex(zstdCompress(pack({ info: { subdir: 'linux-64', base_url: '../pkgs/', shards_base_url: './shards/' }, shards: { NumPy: hash(1), a: hash(2) } })), indexUrl);
    expect(relative?.subdir).toBe('linux-64');
    expect(relative?.baseUrl).toBe('../pkgs/');
    expect(relative?.shards.get('numpy')).toBe(`https://example.invalid/chan/linux-64/shards/${'01'.repeat(32)}.msgpack.zst`);
    const absolute = readShardIndex(zstdCompress(pack({ info: { shards_base_url: 'https://cdn.example.invalid/s' }, shards: { a: hash(2) } })), indexUrl);
    expect(absolute?.shards.get('a')).toBe(`https://cdn.example.invalid/s/${'02'.repeat(32)}.msgpack.zst`);
    // A base with a query: resolved as a URL (the query does not carry over to the shards).
    const query = readShardIndex(zstdCompress(pack({ info: { shards_base_url: 'https://cdn.example.invalid/s/?sig=1' }, shards: { a: hash(2) } })), indexUrl);
    expect(query?.shards.get('a')).toBe(`https://cdn.example.invalid/s/${'02'.repeat(32)}.msgpack.zst`);
    // No info at all: the shards sit next to the index.
    expect(readShardIndex(zstdCompress(pack({ shards: { A: hash(3) } })), indexUrl)?.shards.get('a')).toBe(`https://example.invalid/chan/linux-64/${'03'.repeat(32)}.msgpack.zst`);
    expect(readShardIndex(zstdCompress(pack({ info: {}, shards: 'x' })), indexUrl)).toBeUndefined();
    expect(readShardIndex(zstdCompress(Buffer.concat([pack({ shards: { a: hash(2) } }), Buffer.from([0x01])])), indexUrl)).toBeUndefined();
    expect(readShardIndex(zstdCompress(pack({ info: {}, shards: { a: Buffer.alloc(5) } })), indexUrl)).toBeUndefined();
    expect(readShardIndex(zstdCompress(pack({ info: {} })), indexUrl)).toBeUndefined();
    expect(readShardIndex(Buffer.from('not zstd'), indexUrl)).toBeUndefined();
  });

  test('a shard: its records with hashes as hex; a frame that would pass the limit is refused while decompressing', () => {
    // The shard of `b` holding a record of `a` too (a hostile channel): read for `b`, only b's record.
    const mixed = zstdCompress(pack({ packages: { 'a-9.0-0.tar.bz2': { name: 'a', version: '9.0', build: '0' }, 'b-1.0-0.tar.bz2': { name: 'B', version: '1.0', build: '0' } } }));
    expect(readShard(mixed, 'b')?.map((e) => e.fn)).toEqual(['b-1.0-0.tar.bz2']);
    expect(readShard(mixed)?.map((e) => e.fn)).toEqual(['a-9.0-0.tar.bz2', 'b-1.0-0.tar.bz2']);
    const entries = readShard(zstdCompress(shard));
    expect(entries).toEqual([{ table: 'packages', fn: 'a-1.0-0.tar.bz2', record: { name: 'a', version: '1.0', build: '0', license: 'MIT', sha256: 'ab'.repeat(32) } }]);
    // 1 MB of zeros: refused past a 64 kB limit, whatever its frame header declares.
    const zeros = zstdCompress(Buffer.alloc(1024 * 1024));
    expect(inflateBounded(zeros, 64 * 1024)).toBeUndefined();
    expect(inflateBounded(zeros, 2 * 1024 * 1024)?.length).toBe(1024 * 1024);
  });

  test('the records of the shards make one repodata of those names, with the index info a solver needs', () => {
    const index = readShardIndex(zstdCompress(pack({ info: { subdir: 'linux-64', base_url: 'https://pkgs.example.invalid/' }, shards: { a: hash(2) } })), indexUrl);
    const repodata = repodataOfShards(index as NonNullable<typeof index>, [readShard(zstdCompress(shard)) ?? []]);
    expect([...repodata.names()]).toEqual(['a']);
    expect(repodata.record('a-1.0-0.tar.bz2')?.sha256).toBe('ab'.repeat(32));
    expect(JSON.parse(Buffer.from(repodata.pruned(new Set(['a']))).toString('utf8'))).toMatchObject({ info: { subdir: 'linux-64', base_url: 'https://pkgs.example.invalid/' }, repodata_version: 2 });
  });

  test('a shard read as one object would be: a file listed twice keeps its first place and its last record; md5 and sha256 as hex, whatever their binary size', () => {
    const twice = Buffer.concat([
      // {"packages": {"a-1-0.tar.bz2": {..v1}, "a-2-0.tar.bz2": {..}, "a-1-0.tar.bz2": {..v1b}}, "packages.conda": {...}}
      Buffer.from([0x82]),
      pack('packages'),
      Buffer.from([0x83]),
      pack('a-1-0.tar.bz2'),
      pack({ name: 'a', version: '1', build: '0' }),
      pack('a-2-0.tar.bz2'),
      pack({ name: 'a', version: '2', build: '0' }),
      pack('a-1-0.tar.bz2'),
      pack({ name: 'a', version: '1', build: '0b' }),
      pack('packages.conda'),
      Buffer.from([0x81]),
      pack('a-3-0.conda'),
      // md5 as bin 32, sha256 as a string, a hash of the wrong type dropped
      Buffer.concat([Buffer.from([0x84]), pack('name'), pack('a'), pack('md5'), Buffer.from([0xc6, 0, 0, 0, 2, 0xbe, 0xef]), pack('sha256'), pack('cafe'), pack('version'), pack('3')]),
    ]);
    const entries = readShard(zstdCompress(twice));
    expect(entries?.map((e) => [e.table, e.fn, e.record.build])).toEqual([
      ['packages', 'a-1-0.tar.bz2', '0b'],
      ['packages', 'a-2-0.tar.bz2', '0'],
      ['packages.conda', 'a-3-0.conda', undefined],
    ]);
    expect(entries?.[2].record).toEqual({ name: 'a', md5: 'beef', sha256: 'cafe', version: '3' });
    const badHash = zstdCompress(pack({ packages: { 'a-1-0.tar.bz2': { name: 'a', version: '1', build: '0', md5: { x: 'y' } } } }));
    expect(readShard(badHash)?.[0].record).toEqual({ name: 'a', version: '1', build: '0' });
    // Not a map, a table that is not a map, trailing bytes: read as before (undefined, skipped, undefined).
    expect(readShard(zstdCompress(Buffer.from([0x91, 0x01])))).toBeUndefined();
    expect(readShard(zstdCompress(Buffer.concat([Buffer.from([0x82]), pack('packages'), pack('x'), pack('packages.conda'), Buffer.from([0x80])])))).toEqual([]);
    expect(readShard(zstdCompress(Buffer.concat([pack({ packages: {} }), Buffer.from([0x01])])))).toBeUndefined();
  });

  test('a file in two shards: the last shard read wins, as in one repodata.json object', () => {
    const index = readShardIndex(zstdCompress(pack({ info: { subdir: 'linux-64' }, shards: { a: hash(2) } })), indexUrl);
    const first = readShard(zstdCompress(pack({ packages: { 'a-1-0.tar.bz2': { name: 'a', version: '1', build: '0', license: 'first' } } })), 'a') ?? [];
    const second = readShard(zstdCompress(pack({ packages: { 'a-1-0.tar.bz2': { name: 'a', version: '1', build: '0', license: 'second' } } })), 'a') ?? [];
    const repodata = repodataOfShards(index as NonNullable<typeof index>, [first, second]);
    expect(repodata.entries('a').map((e) => e.record.license)).toEqual(['second']);
    expect(repodata.entries('a')).toBe(repodata.entries('a'));
    expect(JSON.parse(Buffer.from(repodata.pruned(new Set(['a']))).toString('utf8'))).toMatchObject({ info: { subdir: 'linux-64' }, repodata_version: 1 });
  });

  test('a shard read for the solver only: the fields asked for, the rest never built; the same records otherwise', () => {
    const body = zstdCompress(pack({ packages: { 'a-1-0.tar.bz2': { name: 'a', version: '1', build: '0', license: 'MIT', sha256: sha, run_exports: { weak: 'x' } } }, 'packages.conda': {} }));
    expect(readShard(body, 'a', { only: new Set(['name', 'version', 'build']) })).toEqual([{ table: 'packages', fn: 'a-1-0.tar.bz2', record: { name: 'a', version: '1', build: '0' } }]);
    expect(readShard(body, 'a')?.[0].record).toMatchObject({ license: 'MIT', sha256: 'ab'.repeat(32), run_exports: { weak: 'x' } });
    // The name check needs the name: a record without it (or of another name) is left out either way.
    expect(readShard(body, 'b', { only: new Set(['version']) })).toEqual([]);
  });

  test('records read with the solver fields only are served as they are: the same repodata as the full records give', () => {
    const index = readShardIndex(zstdCompress(pack({ info: { subdir: 'linux-64' }, shards: { a: hash(2) } })), indexUrl);
    const body = zstdCompress(pack({ packages: { 'a-1-0.tar.bz2': { version: '1', license: 'MIT', name: 'a', build: '0', sha256: sha, subdir: 'linux-64' } } }));
    const lean = repodataOfShards(index as NonNullable<typeof index>, [readShard(body, 'a', { only: new Set(SOLVER_FIELDS) }) ?? []], { solverFieldsOnly: true });
    const full = repodataOfShards(index as NonNullable<typeof index>, [readShard(body, 'a') ?? []]);
    const served = (r: typeof lean): unknown => JSON.parse(Buffer.from(r.pruned(new Set(['a']))).toString('utf8'));
    expect(served(lean)).toEqual(served(full));
    expect(served(lean)).toEqual({
      info: { subdir: 'linux-64' },
      repodata_version: 1,
      packages: { 'a-1-0.tar.bz2': { name: 'a', version: '1', build: '0', subdir: 'linux-64' } },
      'packages.conda': {},
    });
  });
});
