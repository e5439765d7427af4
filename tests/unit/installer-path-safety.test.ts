import { joinInside, safeMode, unsafeLinkReason, unsafePathReason } from '../../src/installer/path-safety.js';
import { mirroredUrl } from '../../src/conda/mirror.js';
import { localPath } from '../../src/installer/url.js';

describe('paths inside a package', () => {
  test.each(['bin/python', 'lib/a/b/c.so', 'a..b/c', '.hidden/x'])('%s is fine', (p) => {
    expect(unsafePathReason(p)).toBeUndefined();
  });
  test.each([
    ['../evil', 'leaves its directory'],
    ['a/../../evil', 'leaves its directory'],
    ['a/..', 'leaves its directory'],
    ['/etc/passwd', 'absolute path'],
    ['C:/Windows', 'absolute path'],
    ['\\\\server\\share', 'absolute path'],
    ['', 'empty path'],
    ['a\0b', 'NUL'],
  ])('%j is refused (%s)', (p, why) => {
    expect(unsafePathReason(p)).toContain(why);
  });
});

describe('links inside a package', () => {
  test('soft links resolve from their own directory', () => {
    expect(unsafeLinkReason('lib/libfoo.so', 'libfoo.so.1', 'symlink')).toBeUndefined();
    expect(unsafeLinkReason('lib/sub/x', '../y', 'symlink')).toBeUndefined();
    expect(unsafeLinkReason('lib/x', '../../outside', 'symlink')).toContain('leads out');
    expect(unsafeLinkReason('x', '..', 'symlink')).toContain('leads out');
    expect(unsafeLinkReason('bin/sh', '/bin/sh', 'symlink')).toContain('is absolute');
  });
  test('hard links resolve from the package root', () => {
    expect(unsafeLinkReason('lib/sub/x', 'lib/y', 'hardlink')).toBeUndefined();
    expect(unsafeLinkReason('lib/x', '../outside', 'hardlink')).toContain('leads out');
    expect(unsafeLinkReason('lib/x', '/etc/shadow', 'hardlink')).toContain('is absolute');
  });
});

test('setuid, setgid and group/other write bits are dropped, the rest kept', () => {
  expect(safeMode(0o4755)).toBe(0o755);
  expect(safeMode(0o2755)).toBe(0o755);
  expect(safeMode(0o1777)).toBe(0o1755);
  expect(safeMode(0o666)).toBe(0o644); // never writable by group or others
  expect(safeMode(0o775)).toBe(0o755);
  expect(safeMode(0o644)).toBe(0o644);
  expect(safeMode(undefined)).toBeUndefined();
});

test('joinInside refuses a path that resolves outside its root', () => {
  expect(joinInside('/r', 'a/b')).toBe('/r/a/b');
  expect(() => joinInside('/r', '../x')).toThrow('outside');
  expect(() => joinInside('/r', '/x')).toThrow('outside');
});

describe('URLs', () => {
  test('the mirror takes the last path segment of the channel', () => {
    expect(mirroredUrl('https://conda.anaconda.org/conda-forge', 'linux-64', 'a-1-0.conda', 'https://mirror.local/conda/')).toBe('https://mirror.local/conda/conda-forge/linux-64/a-1-0.conda');
    expect(mirroredUrl('https://repo.anaconda.com/pkgs/main/', 'noarch', 'b-1-0.tar.bz2', 'http://m')).toBe('http://m/main/noarch/b-1-0.tar.bz2');
  });

  test('file:// URLs and plain paths are local, http(s) is not', () => {
    expect(localPath('file:///srv/ch%20x/a.conda')).toBe('/srv/ch x/a.conda');
    expect(localPath('/srv/ch/a.conda')).toBe('/srv/ch/a.conda');
    expect(localPath('https://host/a.conda')).toBeUndefined();
  });
});
