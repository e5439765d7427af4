import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { LockedPackage } from '../../src/conda/types.js';
import { condaMetaSize } from '../../src/deploy/layout.js';
import { historyEntry, prefixRecord, recordFileName, requestedSpecFor, writeCondaMeta, type MetaInput } from '../../src/installer/conda-meta.js';
import type { LinkedPackage } from '../../src/installer/link.js';

const pkg: LockedPackage = {
  url: 'https://user:pw@conda.example/t/tok-1/ch/linux-64/foo-1.0-h1_0.conda',
  channel: 'https://user:pw@conda.example/t/tok-1/ch',
  subdir: 'linux-64',
  fn: 'foo-1.0-h1_0.conda',
  dist: 'foo-1.0-h1_0',
  sha256: 'a'.repeat(64),
};

const linked: LinkedPackage = {
  unit: {
    dist: 'foo-1.0-h1_0',
    dir: '/cache/foo-1.0-h1_0',
    info: {
      index: { name: 'foo', version: '1.0', build: 'h1_0', build_number: 0, depends: ['libc >=2'], constrains: ['bar <2'], subdir: 'linux-64', license: 'MIT' },
      paths: [],
      noarchPython: false,
      entryPoints: [],
    },
  },
  paths: [
    { _path: 'lib/z.so', path_type: 'hardlink', sha256: 'b'.repeat(64), size_in_bytes: 3 },
    { _path: 'bin/foo', path_type: 'hardlink', sha256: 'c'.repeat(64), size_in_bytes: 9, prefix_placeholder: '/ph', file_mode: 'text', sha256_in_prefix: 'd'.repeat(64) },
    { _path: 'share/empty', path_type: 'directory' },
  ],
  linkType: 1,
};

const input: MetaInput = {
  pkg,
  linked,
  digest: { sha256: 'a'.repeat(64), md5: 'e'.repeat(32), size: 1234 },
  extraPaths: [{ _path: 'lib/a/__pycache__/m.cpython-312.pyc', path_type: 'pyc_file' }],
  requestedSpec: 'foo >=1',
};

test('a record carries what conda list and micromamba list read', () => {
  const r = prefixRecord(input);
  expect(r).toMatchObject({
    name: 'foo',
    version: '1.0',
    build: 'h1_0',
    build_number: 0,
    fn: 'foo-1.0-h1_0.conda',
    md5: 'e'.repeat(32),
    sha256: 'a'.repeat(64),
    size: 1234,
    depends: ['libc >=2'],
    constrains: ['bar <2'],
    subdir: 'linux-64',
    license: 'MIT',
    requested_spec: 'foo >=1',
    requested_specs: ['foo >=1'],
    link: { source: '/cache/foo-1.0-h1_0', type: 1 },
    extracted_package_dir: '/cache/foo-1.0-h1_0',
  });
  // The cache keeps no archive: no path to one (rattler writes none either).
  expect(r).not.toHaveProperty('package_tarball_full_path');
  // Directories are not files; the list is sorted and includes the compiled .pyc.
  expect(r.files).toEqual(['bin/foo', 'lib/a/__pycache__/m.cpython-312.pyc', 'lib/z.so']);
  expect(r.paths_data).toEqual({
    paths_version: 1,
    paths: [linked.paths[1], input.extraPaths![0], linked.paths[0]],
  });
});

test('no credentials anywhere in a record or the history', () => {
  const text = JSON.stringify(prefixRecord(input)) + historyEntry([pkg], ['foo'], new Date(0), 'gitenv deploy');
  expect(text).not.toContain('pw');
  expect(text).not.toContain('tok-1');
  expect(prefixRecord(input).url).toBe('https://conda.example/t/***/ch/linux-64/foo-1.0-h1_0.conda');
});

test('requested specs are matched by package name', () => {
  const specs = ['python 3.12.*', 'numpy>=2', 'conda-forge::scipy', 'pandas[version=">=2"]'];
  expect(requestedSpecFor('python', specs)).toBe('python 3.12.*');
  expect(requestedSpecFor('numpy', specs)).toBe('numpy>=2');
  expect(requestedSpecFor('scipy', specs)).toBe('conda-forge::scipy');
  expect(requestedSpecFor('pandas', specs)).toBe('pandas[version=">=2"]');
  expect(requestedSpecFor('python-dateutil', specs)).toBeUndefined();
});

test("history in conda's format: a dated header, +channel/subdir::dist lines, the specs", () => {
  const text = historyEntry([{ ...pkg, url: 'https://h/ch/linux-64/foo-1.0-h1_0.conda', channel: 'https://h/ch' }], ['foo >=1'], new Date('2024-05-01T10:20:30.456Z'), 'gitenv deploy');
  expect(text.split('\n')).toEqual([
    '==> 2024-05-01 10:20:30 <==',
    '# cmd: gitenv deploy',
    expect.stringMatching(/^# gitenv version: \d/),
    '+https://h/ch/linux-64::foo-1.0-h1_0',
    '# update specs: ["foo >=1"]',
    '',
  ]);
});

test('writeCondaMeta writes <name>-<version>-<build>.json and the history; the size it gives is the one deploy reads back', async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'gitenv-meta-'));
  try {
    const bytes = await writeCondaMeta(dir, [input], 'HISTORY\n');
    expect(bytes).toBeGreaterThan(0);
    expect(bytes).toBe(await condaMetaSize(dir));
    expect(recordFileName(linked.unit.info.index)).toBe('foo-1.0-h1_0.json');
    const record = JSON.parse(await fs.readFile(path.join(dir, 'conda-meta', 'foo-1.0-h1_0.json'), 'utf8'));
    expect(record.name).toBe('foo');
    expect(await fs.readFile(path.join(dir, 'conda-meta', 'history'), 'utf8')).toBe('HISTORY\n');
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});
