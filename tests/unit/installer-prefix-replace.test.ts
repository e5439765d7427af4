import { PrefixTooLongError, replacePrefix } from '../../src/installer/prefix-replace.js';

const PH = '/opt/placeholder_placeholder_placeholder';

describe('text mode', () => {
  test('replaces every occurrence; the size follows the new prefix', () => {
    const data = Buffer.from(`a=${PH}/bin\nb=${PH}:${PH}/lib\n`);
    const out = replacePrefix(data, PH, '/p', 'text');
    expect(out.toString()).toBe('a=/p/bin\nb=/p:/p/lib\n');
  });

  test('a longer prefix is fine in text mode', () => {
    const long = '/x'.repeat(40);
    expect(replacePrefix(Buffer.from(`${PH}!`), PH, long, 'text').toString()).toBe(`${long}!`);
  });

  test('a file without the placeholder comes back untouched', () => {
    const data = Buffer.from('nothing here');
    expect(replacePrefix(data, PH, '/p', 'text')).toBe(data);
  });
});

describe('binary mode', () => {
  test('the C string keeps its length, padded with NULs after its new end', () => {
    const data = Buffer.concat([Buffer.from('HEAD'), Buffer.from(`${PH}/share\0`), Buffer.from('TAIL')]);
    const out = replacePrefix(data, PH, '/new', 'binary');
    expect(out.length).toBe(data.length);
    const expected = Buffer.concat([Buffer.from('HEAD'), Buffer.from('/new/share'), Buffer.alloc(PH.length - '/new'.length + 1), Buffer.from('TAIL')]);
    expect(out.equals(expected)).toBe(true);
  });

  test('several occurrences in one C string all move left, the padding goes to its end', () => {
    const data = Buffer.from(`X\0rpath=${PH}/lib:${PH}/lib64\0Y`);
    const out = replacePrefix(data, PH, '/q', 'binary');
    const shrink = 2 * (PH.length - 2);
    expect(out.equals(Buffer.concat([Buffer.from('X\0rpath=/q/lib:/q/lib64'), Buffer.alloc(shrink + 1), Buffer.from('Y')]))).toBe(true);
  });

  test('strings in separate C strings are each padded in place', () => {
    const data = Buffer.from(`${PH}/a\0${PH}/b\0`);
    const out = replacePrefix(data, PH, '/r', 'binary');
    const pad = Buffer.alloc(PH.length - 2);
    expect(out.equals(Buffer.concat([Buffer.from('/r/a'), pad, Buffer.from('\0/r/b'), pad, Buffer.from('\0')]))).toBe(true);
  });

  test('a string running to the end of the file without a NUL is padded to the end', () => {
    const out = replacePrefix(Buffer.from(`ab${PH}`), PH, '/s', 'binary');
    expect(out.equals(Buffer.concat([Buffer.from('ab/s'), Buffer.alloc(PH.length - 2)]))).toBe(true);
  });

  test('a prefix of the same length is a plain substitution', () => {
    const same = '/'.padEnd(PH.length, 'z');
    const out = replacePrefix(Buffer.from(`${PH}\0`), PH, same, 'binary');
    expect(out.toString()).toBe(`${same}\0`);
  });

  test('a prefix longer than the placeholder is an error naming both lengths', () => {
    const long = '/'.padEnd(PH.length + 1, 'y');
    expect(() => replacePrefix(Buffer.from(`${PH}\0`), PH, long, 'binary')).toThrow(PrefixTooLongError);
    expect(() => replacePrefix(Buffer.from(`${PH}\0`), PH, long, 'binary')).toThrow(`(${long.length} bytes) is longer than the placeholder (${PH.length} bytes)`);
  });

  test('the input buffer is not modified', () => {
    const data = Buffer.from(`${PH}\0`);
    const copy = Buffer.from(data);
    replacePrefix(data, PH, '/t', 'binary');
    expect(data.equals(copy)).toBe(true);
  });
});

test('in place, binary mode rewrites the buffer it is given (the linker owns what it just read)', () => {
  const data = Buffer.from(`${PH}/x\0`);
  const out = replacePrefix(data, PH, '/u', 'binary', true);
  expect(out).toBe(data);
  expect(data.subarray(0, 4).toString()).toBe('/u/x');
});
