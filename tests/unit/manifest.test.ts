import type { PackageRecord } from '../../src/conda/types.js';
import { formatManifest, parseManifest, splitDist } from '../../src/manifest/manifest.js';

function rec(name: string, version: string, build: string, channel = 'https://conda.anaconda.org/conda-forge', subdir = 'linux-64'): PackageRecord {
  const fn = `${name}-${version}-${build}.conda`;
  return { name, version, build, buildNumber: 0, subdir, channel, fn, url: `${channel}/${subdir}/${fn}`, depends: [], constrains: [] };
}

test('formatManifest writes channel/subdir TAB dist, sorted by lower-cased dist, newline-terminated', () => {
  const text = formatManifest([
    rec('zlib', '1.3', 'h0_0'),
    rec('Pillow', '10.0', 'py_0', 'https://example.org/chan', 'noarch'),
    rec('python', '3.12.1', 'hab00c5b_0_cpython'),
    rec('openssl', '3.2.0', 'hd590300_1'),
    rec('__glibc', '2.28', '0'),
  ]);
  expect(text).toBe(
    'https://conda.anaconda.org/conda-forge/linux-64\topenssl-3.2.0-hd590300_1\n' +
      'https://example.org/chan/noarch\tPillow-10.0-py_0\n' +
      'https://conda.anaconda.org/conda-forge/linux-64\tpython-3.12.1-hab00c5b_0_cpython\n' +
      'https://conda.anaconda.org/conda-forge/linux-64\tzlib-1.3-h0_0\n',
  );
});

test('an empty manifest is empty', () => {
  expect(formatManifest([])).toBe('');
  expect(parseManifest('')).toEqual([]);
});

test('parseManifest reads what formatManifest writes', () => {
  const records = [rec('python-dateutil', '2.8.2', 'pyhd8ed1ab_0', 'https://conda.anaconda.org/conda-forge', 'noarch'), rec('python', '3.12.1', 'hab00c5b_0_cpython')];
  const parsed = parseManifest(formatManifest(records));
  expect(parsed).toEqual([
    { channel: 'https://conda.anaconda.org/conda-forge', subdir: 'linux-64', name: 'python', version: '3.12.1', build: 'hab00c5b_0_cpython', dist: 'python-3.12.1-hab00c5b_0_cpython' },
    { channel: 'https://conda.anaconda.org/conda-forge', subdir: 'noarch', name: 'python-dateutil', version: '2.8.2', build: 'pyhd8ed1ab_0', dist: 'python-dateutil-2.8.2-pyhd8ed1ab_0' },
  ]);
});

test("parseManifest accepts the old tool's runs of spaces, a trailing slash, CRLF and blank lines", () => {
  const old = 'https://conda.anaconda.org/conda-forge/linux-64/    python-2.7.15-h1571d57_0\r\n\nfile:///opt/chan/noarch/ six-1.11.0-py27_1\n';
  expect(parseManifest(old)).toEqual([
    { channel: 'https://conda.anaconda.org/conda-forge', subdir: 'linux-64', name: 'python', version: '2.7.15', build: 'h1571d57_0', dist: 'python-2.7.15-h1571d57_0' },
    { channel: 'file:///opt/chan', subdir: 'noarch', name: 'six', version: '1.11.0', build: 'py27_1', dist: 'six-1.11.0-py27_1' },
  ]);
});

test('parseManifest names the line it cannot read', () => {
  expect(() => parseManifest('https://x/linux-64\tpython-3.12\n', 'env.manifest')).toThrow(/env\.manifest:1: .*python-3\.12/);
  expect(() => parseManifest('ok/linux-64 a-1-0\njunk\n')).toThrow(/env\.manifest:2/);
});

test('splitDist splits from the right', () => {
  expect(splitDist('ca-certificates-2024.2.2-hbcca054_0')).toEqual({ name: 'ca-certificates', version: '2024.2.2', build: 'hbcca054_0' });
  expect(() => splitDist('nodash')).toThrow();
});
