/**
 * Packages and channels from the fixture builder are real: GNU tar, unzip, zstd and Python read them,
 * their hashes and sizes match the repodata, paths.json matches what is inside, and the placeholders
 * sit where has_prefix says.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { lstat, mkdir, mkdtemp, readFile, readlink, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { buildChannel, buildPackage, cString, LONG_PLACEHOLDER, PREFIX_TOKEN, SHORT_PLACEHOLDER, tarZstBomb, type BuiltPackage, type PackageSpec, type PathsEntry } from '../fixtures/channel/index.js';

let tmp: string;
beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'channel-builder-'));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

const sha256 = (data: Uint8Array) => createHash('sha256').update(data).digest('hex');

const richSpec = (format: 'conda' | 'tar.bz2'): PackageSpec => ({
  name: 'rich',
  version: '2.1.0',
  build: 'h1234567_3',
  build_number: 3,
  format,
  depends: ['__glibc >=2.17', 'zlib >=1.2.13,<1.3.0a0'],
  constrains: ['rich-extras >=2'],
  license: 'MIT',
  files: {
    'bin/rich': { content: `#!/bin/sh\nexec "${PREFIX_TOKEN}/libexec/rich" "$@"\n`, mode: 0o755, prefix: 'text' },
    'lib/librich.so.2': { content: Buffer.concat([Buffer.from('\x7fELF\0\0'), cString(`${PREFIX_TOKEN}/share/rich`), Buffer.alloc(16, 0xcc)]), mode: 0o755, prefix: 'binary' },
    'etc/rich.conf': { content: `root=${PREFIX_TOKEN}\n`, prefix: 'text', placeholder: SHORT_PLACEHOLDER },
    'share/rich/data.bin': Buffer.from([0, 1, 2, 3, 255]),
    'libexec/rich': { content: '#!/bin/sh\necho rich\n', mode: 0o755, noLink: true },
  },
  softlinks: { 'lib/librich.so': 'librich.so.2', 'bin/rich-dangling': '../nowhere' },
  hardlinks: { 'bin/rich-again': 'bin/rich' },
  directories: ['var/lib/rich'],
  postLink: 'echo "linked $PKG_NAME" >> "$PREFIX/.messages.txt"\n',
});

/** Extracts with the real tools only: `tar -xjf`, or `unzip` then `zstd -d` then `tar -x`. */
async function extract(pkg: BuiltPackage): Promise<string> {
  const dest = path.join(tmp, `x-${pkg.fn}`);
  await mkdir(dest, { recursive: true });
  if (pkg.format === 'tar.bz2') {
    execFileSync('tar', ['-xjf', pkg.path, '-C', dest]);
    return dest;
  }
  const zipDir = path.join(tmp, `zip-${pkg.fn}`);
  execFileSync('unzip', ['-q', pkg.path, '-d', zipDir]);
  for (const part of ['pkg', 'info']) {
    const zst = path.join(zipDir, `${part}-${pkg.dist}.tar.zst`);
    execFileSync('zstd', ['-q', '-d', zst, '-o', `${zst}.tar`]);
    execFileSync('tar', ['-xf', `${zst}.tar`, '-C', dest]);
  }
  expect(JSON.parse(await readFile(path.join(zipDir, 'metadata.json'), 'utf8'))).toEqual({ conda_pkg_format_version: 2 });
  return dest;
}

describe.each(['conda', 'tar.bz2'] as const)('buildPackage (.%s)', (format) => {
  let pkg: BuiltPackage;
  let dir: string;
  beforeAll(async () => {
    pkg = await buildPackage(richSpec(format), path.join(tmp, `out-${format}`));
    dir = await extract(pkg);
  });

  test('names the file and returns hashes and size of what it wrote', async () => {
    expect(pkg.fn).toBe(`rich-2.1.0-h1234567_3.${format}`);
    expect(pkg.dist).toBe('rich-2.1.0-h1234567_3');
    const bytes = await readFile(pkg.path);
    expect(pkg.size).toBe(bytes.length);
    expect(pkg.sha256).toBe(sha256(bytes));
    expect(pkg.md5).toBe(createHash('md5').update(bytes).digest('hex'));
    expect(execFileSync('sha256sum', [pkg.path], { encoding: 'utf8' }).split(' ')[0]).toBe(pkg.sha256);
  });

  test('the .conda is a zip of stored entries in conda-package-handling order', () => {
    if (format !== 'conda') return;
    const listing = execFileSync('python3', ['-c', 'import sys,zipfile\nfor i in zipfile.ZipFile(sys.argv[1]).infolist(): print(i.filename, i.compress_type)', pkg.path], { encoding: 'utf8' });
    expect(listing.trim().split('\n')).toEqual(['metadata.json 0', `pkg-${pkg.dist}.tar.zst 0`, `info-${pkg.dist}.tar.zst 0`]);
  });

  test('index.json holds the description and the repodata record adds md5, sha256 and size', async () => {
    const index = JSON.parse(await readFile(path.join(dir, 'info/index.json'), 'utf8'));
    expect(index).toEqual({
      arch: 'x86_64',
      platform: 'linux',
      build: 'h1234567_3',
      build_number: 3,
      constrains: ['rich-extras >=2'],
      depends: ['__glibc >=2.17', 'zlib >=1.2.13,<1.3.0a0'],
      license: 'MIT',
      name: 'rich',
      subdir: 'linux-64',
      timestamp: 1_700_000_000_000,
      version: '2.1.0',
    });
    expect(pkg.record).toEqual({ ...index, md5: pkg.md5, sha256: pkg.sha256, size: pkg.size });
  });

  test('every paths.json entry matches the extracted file, link or directory', async () => {
    const { paths, paths_version } = JSON.parse(await readFile(path.join(dir, 'info/paths.json'), 'utf8')) as { paths: PathsEntry[]; paths_version: number };
    expect(paths_version).toBe(1);
    expect(paths).toEqual(pkg.paths);
    expect(paths.map((p) => p._path)).toEqual([
      'bin/.rich-post-link.sh',
      'bin/rich',
      'bin/rich-again',
      'bin/rich-dangling',
      'etc/rich.conf',
      'lib/librich.so',
      'lib/librich.so.2',
      'libexec/rich',
      'share/rich/data.bin',
      'var/lib/rich',
    ]);
    for (const entry of paths) {
      const full = path.join(dir, entry._path);
      const st = await lstat(full);
      if (entry.path_type === 'directory') {
        expect(st.isDirectory()).toBe(true);
      } else if (entry.path_type === 'softlink') {
        expect(st.isSymbolicLink()).toBe(true);
        expect(entry.size_in_bytes).toBe(Buffer.byteLength(await readlink(full)));
      } else {
        expect(st.isFile()).toBe(true);
        const bytes = await readFile(full);
        expect([entry._path, bytes.length, sha256(bytes)]).toEqual([entry._path, entry.size_in_bytes, entry.sha256]);
      }
    }
    expect(paths.find((p) => p._path === 'libexec/rich')?.no_link).toBe(true);
    // A soft link carries its target's hash; a dangling one the empty file's.
    expect(paths.find((p) => p._path === 'lib/librich.so')?.sha256).toBe(paths.find((p) => p._path === 'lib/librich.so.2')?.sha256);
    expect(paths.find((p) => p._path === 'bin/rich-dangling')?.sha256).toBe(sha256(Buffer.alloc(0)));
  });

  test('modes, soft links and hard links come out as described', async () => {
    expect((await stat(path.join(dir, 'bin/rich'))).mode & 0o777).toBe(0o755);
    expect((await stat(path.join(dir, 'share/rich/data.bin'))).mode & 0o777).toBe(0o644);
    expect((await stat(path.join(dir, 'bin/.rich-post-link.sh'))).mode & 0o777).toBe(0o755);
    expect(await readlink(path.join(dir, 'lib/librich.so'))).toBe('librich.so.2');
    expect((await stat(path.join(dir, 'bin/rich-again'))).ino).toBe((await stat(path.join(dir, 'bin/rich'))).ino);
    expect(await readFile(path.join(dir, 'bin/.rich-post-link.sh'), 'utf8')).toContain('linked $PKG_NAME');
  });

  test('placeholders sit in text and binary files as has_prefix and paths.json say', async () => {
    const hasPrefix = (await readFile(path.join(dir, 'info/has_prefix'), 'utf8')).trim().split('\n');
    expect(hasPrefix).toEqual([`${LONG_PLACEHOLDER} text bin/rich`, `${SHORT_PLACEHOLDER} text etc/rich.conf`, `${LONG_PLACEHOLDER} binary lib/librich.so.2`]);
    expect(LONG_PLACEHOLDER).toHaveLength(255);
    expect(await readFile(path.join(dir, 'bin/rich'), 'utf8')).toBe(`#!/bin/sh\nexec "${LONG_PLACEHOLDER}/libexec/rich" "$@"\n`);
    expect(await readFile(path.join(dir, 'etc/rich.conf'), 'utf8')).toBe(`root=${SHORT_PLACEHOLDER}\n`);
    const binary = await readFile(path.join(dir, 'lib/librich.so.2'));
    const at = binary.indexOf(`${LONG_PLACEHOLDER}/share/rich\0`);
    expect(at).toBe(6);
    const entry = pkg.paths.find((p) => p._path === 'lib/librich.so.2');
    expect(entry).toMatchObject({ file_mode: 'binary', prefix_placeholder: LONG_PLACEHOLDER });
    expect(binary.includes(PREFIX_TOKEN)).toBe(false);
  });

  test('info/files lists every file and link, not the empty directory', async () => {
    const files = (await readFile(path.join(dir, 'info/files'), 'utf8')).trim().split('\n');
    expect(files).toEqual(pkg.paths.filter((p) => p.path_type !== 'directory').map((p) => p._path));
  });

  test('the same description gives the same bytes', async () => {
    const again = await buildPackage(richSpec(format), path.join(tmp, `again-${format}`));
    expect(again.sha256).toBe(pkg.sha256);
  });
});

test('zstdLevel: the .conda members are really compressed (by the zstd of Node), and the real tools read the same files as from raw blocks', async () => {
  const spec = { ...richSpec('conda'), files: { ...richSpec('conda').files, 'share/rich/words.txt': 'the quick brown fox jumps over the lazy dog\n'.repeat(2000) } };
  const raw = await buildPackage({ ...spec, build: 'hraw_0' }, path.join(tmp, 'zstd-raw'));
  const packed = await buildPackage({ ...spec, build: 'hzstd_0', zstdLevel: 9 }, path.join(tmp, 'zstd-9'));
  expect(packed.size).toBeLessThan(raw.size / 4);
  expect(packed.paths).toEqual(raw.paths);
  const [a, b] = [await extract(raw), await extract(packed)];
  for (const p of raw.paths) {
    if (p.path_type !== 'hardlink') continue;
    expect([p._path, sha256(await readFile(path.join(b, p._path)))]).toEqual([p._path, sha256(await readFile(path.join(a, p._path)))]);
  }
});

describe('noarch python packages', () => {
  test('carry info/link.json with their entry points and live in noarch', async () => {
    const pkg = await buildPackage(
      {
        name: 'tool',
        version: '0.3',
        noarch: 'python',
        depends: ['python >=3.8'],
        files: { 'site-packages/tool/__init__.py': 'def main():\n    print("tool")\n', 'python-scripts/tool-sh': { content: '#!/bin/sh\n', mode: 0o755 } },
        entryPoints: ['tool = tool:main', 'tool-admin = tool.admin:run'],
      },
      path.join(tmp, 'noarch-out'),
    );
    expect(pkg.fn).toBe('tool-0.3-py_0.conda');
    expect(pkg.subdir).toBe('noarch');
    expect(pkg.record).toMatchObject({ noarch: 'python', subdir: 'noarch' });
    expect(pkg.record).not.toHaveProperty('arch');
    const dir = await extract(pkg);
    expect(JSON.parse(await readFile(path.join(dir, 'info/link.json'), 'utf8'))).toEqual({
      noarch: { entry_points: ['tool = tool:main', 'tool-admin = tool.admin:run'], type: 'python' },
      package_metadata_version: 1,
    });
    expect(await readFile(path.join(dir, 'site-packages/tool/__init__.py'), 'utf8')).toContain('print("tool")');
  });
});

describe('hostile packages', () => {
  test('raw entries and a lying paths.json are written as asked', async () => {
    const pkg = await buildPackage(
      {
        name: 'evil',
        version: '1',
        format: 'tar.bz2',
        files: { 'share/ok.txt': 'fine\n' },
        hostile: {
          rawEntries: [
            { path: '../../outside.txt', data: 'gotcha' },
            { path: '/tmp/absolute.txt', data: 'gotcha' },
            { path: 'lib/escape', type: 'symlink', linkpath: '../../../../etc' },
            { path: 'lib/hard-escape', type: 'hardlink', linkpath: '../../etc/passwd' },
            { path: 'dev/zero', type: 'char', devmajor: 1, devminor: 5 },
            { path: 'bin/root-shell', data: '#!/bin/sh\n', mode: 0o4755 },
          ],
          paths: (entries) => entries.map((e) => ({ ...e, size_in_bytes: 999, sha256: '0'.repeat(64) })),
        },
      },
      path.join(tmp, 'evil-out'),
    );
    const members = JSON.parse(
      execFileSync('python3', ['-c', 'import json,sys,tarfile\nprint(json.dumps([[m.name,m.type.decode(),m.mode,m.linkname] for m in tarfile.open(sys.argv[1]).getmembers()]))', pkg.path], {
        encoding: 'utf8',
      }),
    ) as [string, string, number, string][];
    expect(members.filter(([name]) => !name.startsWith('info/'))).toEqual([
      ['share/ok.txt', '0', 0o644, ''],
      ['../../outside.txt', '0', 0o644, ''],
      ['/tmp/absolute.txt', '0', 0o644, ''],
      ['lib/escape', '2', 0o777, '../../../../etc'],
      ['lib/hard-escape', '1', 0o644, '../../etc/passwd'],
      ['dev/zero', '3', 0o644, ''],
      ['bin/root-shell', '0', 0o4755, ''],
    ]);
    expect(pkg.paths).toEqual([{ _path: 'share/ok.txt', path_type: 'hardlink', sha256: '0'.repeat(64), size_in_bytes: 999 }]);
  });

  test('a .conda bomb: a few kilobytes whose pkg member unpacks to a 64 MiB file', async () => {
    const size = 64 * 1024 * 1024;
    const pkg = await buildPackage(
      {
        name: 'bomb',
        version: '1',
        hostile: { condaMembers: { pkg: tarZstBomb('share/huge.bin', size) }, zipEntries: [{ name: 'extra.bin', data: Buffer.alloc(1_000_000), deflate: true }] },
      },
      path.join(tmp, 'bomb-out'),
    );
    expect(pkg.size).toBeLessThan(10_000);
    const zipDir = path.join(tmp, 'bomb-zip');
    execFileSync('unzip', ['-q', pkg.path, '-d', zipDir]);
    const listing = execFileSync('sh', ['-c', 'zstd -dc "$1" | tar -tvf -', 'sh', path.join(zipDir, `pkg-${pkg.dist}.tar.zst`)], { encoding: 'utf8' });
    expect(listing).toMatch(new RegExp(`\\s${size}\\s.*share/huge\\.bin`));
    expect((await stat(path.join(zipDir, 'extra.bin'))).size).toBe(1_000_000);
  });

  test('the finished archive can be mangled; the hashes describe the mangled bytes', async () => {
    const pkg = await buildPackage({ name: 'cut', version: '1', files: { a: 'a' }, hostile: { archive: (b) => b.subarray(0, 100) } }, path.join(tmp, 'cut-out'));
    const bytes = await readFile(pkg.path);
    expect([bytes.length, pkg.size, pkg.sha256]).toEqual([100, 100, sha256(bytes)]);
  });

  test('a prefix mode without the token in the content is a mistake in the fixture', async () => {
    await expect(buildPackage({ name: 'x', version: '1', files: { a: { content: 'no token', prefix: 'text' } } }, tmp)).rejects.toThrow(/PREFIX/);
  });
});

describe('buildChannel', () => {
  test('writes repodata per subdir, .tar.bz2 under packages and .conda under packages.conda', async () => {
    const dir = path.join(tmp, 'chan');
    const channel = await buildChannel(
      dir,
      [
        { name: 'a', version: '1.0', format: 'tar.bz2' },
        { name: 'a', version: '1.1' },
        { name: 'b', version: '2.0', noarch: 'generic' },
        { name: 'c', version: '3.0', subdir: 'osx-arm64' },
      ],
      { subdirs: ['linux-64', 'win-64'] },
    );
    expect(channel.url).toBe(`file://${dir}`);
    const read = async (subdir: string) => JSON.parse(await readFile(path.join(dir, subdir, 'repodata.json'), 'utf8'));
    const linux = await read('linux-64');
    expect(linux.info).toEqual({ subdir: 'linux-64' });
    expect(Object.keys(linux.packages)).toEqual(['a-1.0-0.tar.bz2']);
    expect(Object.keys(linux['packages.conda'])).toEqual(['a-1.1-0.conda']);
    expect(Object.keys((await read('noarch'))['packages.conda'])).toEqual(['b-2.0-0.conda']);
    expect((await read('osx-arm64'))['packages.conda']['c-3.0-0.conda']).toMatchObject({ arch: 'arm64', platform: 'osx' });
    expect(await read('win-64')).toEqual({ info: { subdir: 'win-64' }, packages: {}, 'packages.conda': {}, removed: [], repodata_version: 1 });
    for (const p of channel.packages) {
      const bytes = await readFile(path.join(dir, p.subdir, p.fn));
      const record = (await read(p.subdir))[p.format === 'conda' ? 'packages.conda' : 'packages'][p.fn];
      expect(record).toMatchObject({ name: p.record.name, sha256: sha256(bytes), md5: createHash('md5').update(bytes).digest('hex'), size: bytes.length });
    }
  });

  test('noarch/repodata.json exists even for a channel without noarch packages', async () => {
    const dir = path.join(tmp, 'chan-no-noarch');
    await buildChannel(dir, [{ name: 'a', version: '1' }]);
    expect(JSON.parse(await readFile(path.join(dir, 'noarch/repodata.json'), 'utf8'))['packages.conda']).toEqual({});
  });

  test('rebuilding with one more package adds it and leaves the others byte for byte', async () => {
    const dir = path.join(tmp, 'chan-grow');
    const first = await buildChannel(dir, [{ name: 'a', version: '1' }]);
    const second = await buildChannel(dir, [
      { name: 'a', version: '1' },
      { name: 'a', version: '2' },
    ]);
    expect(second.packages[0].sha256).toBe(first.packages[0].sha256);
    expect(Object.keys(second.repodata['linux-64']['packages.conda']).sort()).toEqual(['a-1-0.conda', 'a-2-0.conda']);
  });

  test('patchRepodata can make the repodata lie', async () => {
    const dir = path.join(tmp, 'chan-lie');
    await buildChannel(dir, [{ name: 'a', version: '1' }], {
      patchRepodata: (_subdir, r) => {
        for (const rec of Object.values(r['packages.conda'])) rec.sha256 = 'f'.repeat(64);
        return r;
      },
    });
    const linux = JSON.parse(await readFile(path.join(dir, 'linux-64/repodata.json'), 'utf8'));
    expect(linux['packages.conda']['a-1-0.conda'].sha256).toBe('f'.repeat(64));
  });
});
