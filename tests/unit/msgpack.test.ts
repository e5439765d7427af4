import { decodeMsgpack } from '../../src/solver/msgpack.js';

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
