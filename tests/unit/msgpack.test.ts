import { decodeMsgpack, MsgpackReader } from '../../src/solver/msgpack.js';

const b = (...bytes: number[]): Uint8Array => Uint8Array.from(bytes);

test('reads the types sharded repodata uses', () => {
  // {"a": 1, "b": [true, null, -1], "c": bin(2), "d": "x"}
  const bytes = b(0x84, 0xa1, 0x61, 0x01, 0xa1, 0x62, 0x93, 0xc3, 0xc0, 0xff, 0xa1, 0x63, 0xc4, 0x02, 0xde, 0xad, 0xa1, 0x64, 0xa1, 0x78);
  expect(decodeMsgpack(bytes)).toEqual({ a: 1, b: [true, null, -1], c: b(0xde, 0xad), d: 'x' });
  expect(decodeMsgpack(b(0xcd, 0x01, 0x00))).toBe(256);
  expect(decodeMsgpack(b(0xcf, 0, 0, 0, 1, 0, 0, 0, 0))).toBe(2 ** 32);
  expect(decodeMsgpack(b(0xd3, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe))).toBe(-2);
  expect(decodeMsgpack(b(0xcb, 0x3f, 0xf8, 0, 0, 0, 0, 0, 0))).toBe(1.5);
});

test('hostile input is an error, never a hang or a huge allocation', () => {
  expect(() => decodeMsgpack(b(0xdd, 0xff, 0xff, 0xff, 0xff))).toThrow(/truncated/); // an array of 4 billion
  expect(() => decodeMsgpack(b(0xdf, 0xff, 0xff, 0xff, 0xff))).toThrow(/truncated/);
  expect(() => decodeMsgpack(b(0xc6, 0xff, 0xff, 0xff, 0xff))).toThrow(/truncated/);
  expect(() => decodeMsgpack(b(0xa3, 0x61))).toThrow(/truncated/);
  expect(() => decodeMsgpack(b(0x01, 0x02))).toThrow(/trailing/);
  expect(() => decodeMsgpack(b(0xc7, 0x01, 0x01, 0x00))).toThrow(/not read here/);
  expect(() => decodeMsgpack(b(0x81, 0xa9, ...Buffer.from('__proto__'), 0x80))).toThrow(/__proto__/);
  expect(() => decodeMsgpack(Uint8Array.from({ length: 100 }, () => 0x91))).toThrow(/too deep/);
});

test('strings: short ASCII, multi-byte UTF-8, long ones and map keys decode as TextDecoder does; invalid UTF-8 is an error', () => {
  const str = (s: string): Uint8Array => {
    const bytes = Buffer.from(s);
    return bytes.length < 32 ? b(0xa0 | bytes.length, ...bytes) : b(0xd9, bytes.length, ...bytes);
  };
  for (const s of ['', 'python >=3.8,<3.9.0a0', 'ñandú 1.0', '日本語', 'x'.repeat(63), 'x'.repeat(64), 'y'.repeat(65), `${'z'.repeat(60)}é`]) {
    expect(decodeMsgpack(str(s))).toBe(s);
  }
  // The same keys record after record (remembered by their bytes) and keys that collide in length.
  const record = (name: string): number[] => [0x82, ...str('name'), ...str(name), ...str('nbme'), ...str('v')];
  expect(decodeMsgpack(b(0x92, ...record('a'), ...record('b')))).toEqual([
    { name: 'a', nbme: 'v' },
    { name: 'b', nbme: 'v' },
  ]);
  expect(decodeMsgpack(b(0x81, ...str('ключ'), 0x01))).toEqual({ ключ: 1 });
  expect(() => decodeMsgpack(b(0xa2, 0xc3, 0x28))).toThrow(); // an invalid 2-byte sequence
  expect(() => decodeMsgpack(b(0xa2, 0x61))).toThrow(/truncated/);
});

test('binary values under the keys asked for come as lower-case hex (bin 8, 16, 32); anything else as it is', () => {
  const hex = new Set(['sha256', 'md5']);
  const bytes = b(
    0x84,
    0xa6,
    ...Buffer.from('sha256'),
    0xc4,
    0x03,
    0x00,
    0xab,
    0xff,
    0xa3,
    ...Buffer.from('md5'),
    0xc5,
    0x00,
    0x02,
    0x0f,
    0xf0,
    0xa1,
    0x78,
    0xc4,
    0x01,
    0x01,
    0xa1,
    0x79,
    0xa2,
    0x68,
    0x69,
  );
  expect(decodeMsgpack(bytes, { hex })).toEqual({ sha256: '00abff', md5: '0ff0', x: b(0x01), y: 'hi' });
  // bin 32 and a string under a hex key; a truncated binary is an error.
  expect(decodeMsgpack(b(0x81, 0xa3, ...Buffer.from('md5'), 0xc6, 0, 0, 0, 1, 0x7f), { hex })).toEqual({ md5: b(0x7f) });
  expect(decodeMsgpack(b(0x81, 0xa3, ...Buffer.from('md5'), 0xa2, 0x61, 0x62), { hex })).toEqual({ md5: 'ab' });
  expect(() => decodeMsgpack(b(0x81, 0xa3, ...Buffer.from('md5'), 0xc4, 0x05, 0x01), { hex })).toThrow(/truncated/);
  expect(() => decodeMsgpack(b(0x81, 0xa3, ...Buffer.from('md5')), { hex })).toThrow(/truncated/);
});

test('MsgpackReader: a map walked key by key, the same values as decodeMsgpack, trailing bytes refused', () => {
  const bytes = b(0x82, 0xa1, 0x61, 0x93, 0x01, 0x02, 0x03, 0xa1, 0x62, 0xc0);
  const reader = new MsgpackReader(bytes);
  expect(reader.mapLength()).toBe(2);
  expect(reader.mapKey()).toBe('a');
  expect(reader.value(1)).toEqual([1, 2, 3]);
  expect(reader.mapKey()).toBe('b');
  expect(reader.value(1)).toBeNull();
  expect(() => reader.end()).not.toThrow();
  const notMap = new MsgpackReader(b(0x93, 0x01, 0x02, 0x03));
  expect(notMap.mapLength()).toBeUndefined();
  expect(notMap.value(0)).toEqual([1, 2, 3]);
  const trailing = new MsgpackReader(b(0x01, 0x02));
  trailing.value(0);
  expect(() => trailing.end()).toThrow(/trailing/);
  expect(() => new MsgpackReader(b(0x81, 0xa9, ...Buffer.from('__proto__'), 0x80)).value(0)).toThrow(/__proto__/);
  expect(() => new MsgpackReader(b(0xdf, 0xff, 0xff, 0xff, 0xff)).mapLength()).toThrow(/truncated/);
});

test('MsgpackReader.mapOf keeps the keys asked for and steps over the rest, checking what it skips', () => {
  const key = (s: string): number[] => [0xa0 | s.length, ...Buffer.from(s)];
  // {"name": "a", "skip": [1, {"x": -1}, 3.5, 2^32, bin(2), "ü"], "depends": ["b"], "n": nil}
  const record = [
    0x84,
    ...key('name'),
    ...key('a'),
    ...key('skip'),
    0x96,
    0x01,
    0x81,
    ...key('x'),
    0xff,
    0xcb,
    0x40,
    0x0c,
    0,
    0,
    0,
    0,
    0,
    0,
    0xce,
    0xff,
    0xff,
    0xff,
    0xff,
    0xc4,
    0x02,
    0x01,
    0x02,
    0xa2,
    0xc3,
    0xbc,
    ...key('depends'),
    0x91,
    ...key('b'),
    ...key('n'),
    0xc0,
  ];
  const reader = new MsgpackReader(b(...record));
  expect(reader.mapOf(new Set(['name', 'depends', 'n']))).toEqual({ name: 'a', depends: ['b'], n: null });
  expect(() => reader.end()).not.toThrow();
  // Not a map: read as a value.
  expect(new MsgpackReader(b(0x92, 0x01, 0x02)).mapOf(new Set(['a']))).toEqual([1, 2]);
  // What is skipped is still checked: truncated, invalid UTF-8, an unknown type.
  expect(() => new MsgpackReader(b(0x81, ...key('s'), 0xdc, 0x00, 0x05, 0x01)).mapOf(new Set())).toThrow(/truncated/);
  expect(() => new MsgpackReader(b(0x81, ...key('s'), 0xa2, 0xc3, 0x28)).mapOf(new Set())).toThrow();
  expect(() => new MsgpackReader(b(0x81, ...key('s'), 0xc7, 0x01, 0x01, 0x00)).mapOf(new Set())).toThrow(/not read here/);
  expect(() => new MsgpackReader(b(0x81, ...key('s'), ...Array.from({ length: 100 }, () => 0x91), 0x01)).mapOf(new Set())).toThrow(/too deep/);
});
