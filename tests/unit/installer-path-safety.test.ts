import { joinInside, safeMode, unsafeLinkReason, unsafePathReason } from '../../src/installer/path-safety.js';
import { localPath, mirroredUrl, redactUrl, scrubCredentials, splitCredentials } from '../../src/installer/url.js';

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
  test('credentials never survive redaction', () => {
    expect(redactUrl('https://user:secret@host/ch/linux-64/x.conda')).toBe('https://host/ch/linux-64/x.conda');
    expect(redactUrl('https://host/t/tk-123/ch/noarch/x.conda')).toBe('https://host/t/***/ch/noarch/x.conda');
    expect(redactUrl('https://host/ch/x.conda?token=abc')).toBe('https://host/ch/x.conda');
    expect(redactUrl('file:///srv/ch/x.conda')).toBe('file:///srv/ch/x.conda');
  });

  test('credentials quoted inside a message (fetch quotes URLs) are scrubbed', () => {
    expect(scrubCredentials('Request cannot be constructed from a URL that includes credentials: http://u:p%40ss@h:1/a/x.conda'))
      .toBe('Request cannot be constructed from a URL that includes credentials: http://h:1/a/x.conda');
    expect(scrubCredentials('GET https://h/t/tk-1/ch/x failed')).toBe('GET https://h/t/***/ch/x failed');
  });

  test('user info becomes a basic auth header', () => {
    expect(splitCredentials('https://u%40x:p%2Fw@h/ch/x.conda')).toEqual({
      url: 'https://h/ch/x.conda',
      authorization: `Basic ${Buffer.from('u@x:p/w').toString('base64')}`,
    });
    expect(splitCredentials('https://h/ch/x.conda')).toEqual({ url: 'https://h/ch/x.conda' });
  });

  test('the mirror takes the last path segment of the channel', () => {
    expect(mirroredUrl('https://conda.anaconda.org/conda-forge', 'linux-64', 'a-1-0.conda', 'https://mirror.local/conda/'))
      .toBe('https://mirror.local/conda/conda-forge/linux-64/a-1-0.conda');
    expect(mirroredUrl('https://repo.anaconda.com/pkgs/main/', 'noarch', 'b-1-0.tar.bz2', 'http://m'))
      .toBe('http://m/main/noarch/b-1-0.tar.bz2');
  });

  test('file:// URLs and plain paths are local, http(s) is not', () => {
    expect(localPath('file:///srv/ch%20x/a.conda')).toBe('/srv/ch x/a.conda');
    expect(localPath('/srv/ch/a.conda')).toBe('/srv/ch/a.conda');
    expect(localPath('https://host/a.conda')).toBeUndefined();
  });
});
