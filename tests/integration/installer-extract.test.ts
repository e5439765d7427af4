/**
 * Extraction of real archives from the channel builder: both formats, modes kept, setuid dropped,
 * and every kind of escape refused with the package named and nothing written outside.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { systemBzip2 } from '../../src/installer/bzip2.js';
import { extractPackage, type ExtractOptions } from '../../src/installer/extract.js';
import { PackageError } from '../../src/util/errors.js';
import { buildPackage, writeTar, zstdCompress, type PackageSpec, type TarEntry } from '../fixtures/channel/index.js';
import { withTail } from '../reliability/support/corpus.js';

let work: string;
const DEEP = 'd0/d1/d2/d3/d4/d5/d6/d7/d8/d9/d10/d11/d12/d13/d14/d15';

beforeEach(async () => {
  work = await fs.mkdtemp(path.join(os.tmpdir(), 'gitenv-extract-'));
});
afterEach(async () => {
  await fs.rm(work, { recursive: true, force: true });
});

/** Every path under `dir`, relative. */
async function tree(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await fs.readdir(dir, { recursive: true })) out.push(String(e));
  return out.sort();
}

const honest: PackageSpec = {
  name: 'honest',
  version: '1.0',
  files: {
    'bin/tool': { content: '#!/bin/sh\necho tool\n', mode: 0o755 },
    'share/readme': 'hi\n',
    'bin/suid': { content: 'x', mode: 0o4755 },
    'bin/sgid': { content: 'x', mode: 0o2750 },
  },
  softlinks: { 'bin/tool-link': 'tool' },
  hardlinks: { 'share/readme-again': 'share/readme' },
  directories: ['share/empty'],
};

// .tar.bz2 twice: through the system's bzip2 (when there is one) and through the JS decoder.
const decoders: ['conda' | 'tar.bz2', string, ExtractOptions][] = [
  ['conda', '', {}],
  ['tar.bz2', ' (system bzip2 when present)', {}],
  ['tar.bz2', ' (JS decoder)', { bzip2: false }],
];

describe.each(decoders)('a %s archive%s', (format, _how, decoder) => {
  test('extracts every entry with its mode; soft links stay soft, hard links hard; setuid/setgid dropped', async () => {
    const built = await buildPackage({ ...honest, format }, path.join(work, 'ch'));
    const dest = path.join(work, 'dest');
    await fs.mkdir(dest);
    const digests = await extractPackage(built.path, dest, built.dist, decoder);
    expect(await fs.readFile(path.join(dest, 'bin/tool'), 'utf8')).toBe('#!/bin/sh\necho tool\n');
    expect((await fs.stat(path.join(dest, 'bin/tool'))).mode & 0o7777).toBe(0o755);
    expect((await fs.stat(path.join(dest, 'bin/suid'))).mode & 0o7777).toBe(0o755);
    expect((await fs.stat(path.join(dest, 'bin/sgid'))).mode & 0o7777).toBe(0o750);
    expect(await fs.readlink(path.join(dest, 'bin/tool-link'))).toBe('tool');
    const a = await fs.stat(path.join(dest, 'share/readme'));
    const b = await fs.stat(path.join(dest, 'share/readme-again'));
    expect(b.ino).toBe(a.ino);
    expect(digests.get('share/readme-again')).toEqual(digests.get('share/readme'));
    expect((await fs.stat(path.join(dest, 'share/empty'))).isDirectory()).toBe(true);
    expect(await tree(path.join(dest, 'info'))).toEqual(expect.arrayContaining(['index.json', 'paths.json', 'files']));
  });

  test('every file is complete when extraction resolves (many files, some large)', async () => {
    const files: Record<string, Uint8Array> = {};
    for (let i = 0; i < 150; i++) files[`share/many/f${i}.bin`] = Buffer.alloc(i % 10 === 0 ? 300_000 : 2_000, i);
    const built = await buildPackage({ name: 'many', version: '1.0', format, files }, path.join(work, 'ch'));
    const dest = path.join(work, 'dest');
    await fs.mkdir(dest);
    const digests = await extractPackage(built.path, dest, built.dist, decoder);
    for (const [p, data] of Object.entries(files)) {
      expect({ p, ok: (await fs.readFile(path.join(dest, p))).equals(data) }).toEqual({ p, ok: true });
      // The hash taken on the way to disk is the file's, with the mode it was written with.
      expect(digests.get(p)).toEqual({ sha256: createHash('sha256').update(data).digest('hex'), size: data.length, mode: 0o644 });
    }
    expect(digests.get('info/index.json')?.size).toBeGreaterThan(0);
  });

  const absoluteTarget = () => path.join(work, 'abs-evil.txt');
  const hostile: [string, () => TarEntry[], string][] = [
    ['a ../ traversal', () => [{ path: '../../evil.txt', data: 'x' }], 'leaves its directory'],
    ['a traversal in the middle', () => [{ path: 'lib/../../../evil.txt', data: 'x' }], 'leaves its directory'],
    ['an absolute path', () => [{ path: absoluteTarget(), data: 'x' }], 'absolute path'],
    [
      'a soft link leading out, then a file through it',
      () => [
        { path: 'lib/out', type: 'symlink', linkpath: '../../..' },
        { path: 'lib/out/evil.txt', data: 'x' },
      ],
      'leads out',
    ],
    [
      'a chain of soft links, each inside on paper, leading out together',
      () => [
        { path: 'a/b', type: 'symlink', linkpath: '..' },
        { path: 'c', type: 'symlink', linkpath: 'a/b/..' },
      ],
      'leads out of the package through other links',
    ],
    [
      'a soft link into a link that leads up',
      () => [
        { path: 'lib/up', type: 'symlink', linkpath: '..' },
        { path: 'lib/evil', type: 'symlink', linkpath: 'up/../..' },
      ],
      'lib/evil leads out of the package through other links',
    ],
    [
      'a file written through a soft link of the archive',
      () => [
        { path: 'lib/sub', type: 'directory' },
        { path: 'lib/alias', type: 'symlink', linkpath: 'sub' },
        { path: 'lib/alias/evil.txt', data: 'x' },
      ],
      'would be written through the soft link lib/alias',
    ],
    ['an absolute soft link', () => [{ path: 'lib/etc', type: 'symlink', linkpath: '/etc' }], 'is absolute'],
    ['a hard link leading out', () => [{ path: 'lib/hl', type: 'hardlink', linkpath: '../../outside.txt' }], 'leads out'],
    [
      'a hard link through a soft link that leads up',
      () => [
        { path: 'a/b', type: 'symlink', linkpath: '..' },
        { path: 'lib/hl', type: 'hardlink', linkpath: 'a/b/../outside.txt' },
      ],
      'not a file earlier in the archive',
    ],
    ['a hard link to an absolute path', () => [{ path: 'lib/hl', type: 'hardlink', linkpath: '/etc/passwd' }], 'is absolute'],
    ['a character device', () => [{ path: 'dev/null', type: 'char', devmajor: 1, devminor: 3 }], 'CharacterDevice'],
    ['a block device', () => [{ path: 'dev/sda', type: 'block', devmajor: 8, devminor: 0 }], 'BlockDevice'],
    ['a FIFO', () => [{ path: 'run/pipe', type: 'fifo' }], 'FIFO'],
    // issue 15 item 1: a link reached through a `.` or an empty segment, compared as raw strings, let
    // the next link and a file through both land outside before the package was refused
    ...(['/./', '//'] as const).map((sep): [string, () => TarEntry[], string] => [
      `a soft link reached through a "${sep}" segment, then a link and a file through it`,
      () => [
        { path: `${DEEP}${sep}s`, type: 'symlink', linkpath: Array(16).fill('..').join('/') },
        { path: `${DEEP}/s/b`, type: 'symlink', linkpath: '../../..' },
        { path: 'b/evil.txt', data: 'x' },
      ],
      `would be written through the soft link ${DEEP}/s`,
    ]),
    [
      'a hard link whose target is spelt with a "." segment through a soft link',
      () => [
        { path: 'lib/f', data: 'f' },
        { path: 'lib/up', type: 'symlink', linkpath: '.' },
        { path: 'lib/hl', type: 'hardlink', linkpath: 'lib/./up/f' },
      ],
      'hard link lib/hl names lib/up/f, not a file earlier in the archive',
    ],
  ];

  test.each(hostile)('with %s is refused whole, naming the package, nothing written outside', async (_what, entries, why) => {
    await fs.writeFile(path.join(work, 'outside.txt'), 'keep');
    const built = await buildPackage({ name: 'hostile', version: '1.0', format, files: { 'share/ok': 'ok\n' }, hostile: { rawEntries: entries() } }, path.join(work, 'ch'));
    const dest = path.join(work, 'x', 'y', 'dest');
    await fs.mkdir(dest, { recursive: true });
    const err = await extractPackage(built.path, dest, built.dist, decoder).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PackageError);
    expect((err as PackageError).packageName).toBe(built.dist);
    expect((err as Error).message).toContain(why);
    await fs.rm(dest, { recursive: true, force: true }); // as the package cache does with its scratch directory
    const everything = await tree(work);
    expect(everything.filter((p) => p.includes('evil'))).toEqual([]);
    await expect(fs.stat(absoluteTarget())).rejects.toThrow();
    expect(await fs.readFile(path.join(work, 'outside.txt'), 'utf8')).toBe('keep');
    expect(everything.filter((p) => !p.startsWith('ch') && !['x', path.join('x', 'y'), 'outside.txt'].includes(p))).toEqual([]);
  });

  test('a path twice in the archive: the later entry wins, with its mode and the archive mtime', async () => {
    const rawEntries: TarEntry[] = [
      { path: 'share/twice', data: 'first\n', mode: 0o644, mtime: 1_000_000_000 },
      { path: 'share/twice', data: 'second\n', mode: 0o750, mtime: 1_100_000_000 },
    ];
    const built = await buildPackage({ name: 'twice', version: '1.0', format, files: { 'share/ok': 'ok\n' }, hostile: { rawEntries } }, path.join(work, 'ch'));
    const dest = path.join(work, 'dest');
    await fs.mkdir(dest);
    const digests = await extractPackage(built.path, dest, built.dist, decoder);
    const st = await fs.stat(path.join(dest, 'share/twice'));
    expect(await fs.readFile(path.join(dest, 'share/twice'), 'utf8')).toBe('second\n');
    expect(st.mode & 0o7777).toBe(0o750);
    expect(st.mtimeMs).toBe(1_100_000_000_000);
    expect(digests.get('share/twice')).toEqual({ size: 7, sha256: createHash('sha256').update('second\n').digest('hex'), mode: 0o750 });
  });

  test('a package expanding beyond the size limit (a decompression bomb) is refused', async () => {
    const built = await buildPackage({ name: 'bomb', version: '1.0', format, files: { 'share/zeros': new Uint8Array(1 << 20) } }, path.join(work, 'ch'));
    const dest = path.join(work, 'dest');
    await fs.mkdir(dest);
    await expect(extractPackage(built.path, dest, built.dist, { ...decoder, maxBytes: 100_000 })).rejects.toThrow(/bomb-1.0-0: refused: .*size limit/);
  });

  // bzip2 checks each block (a zstd raw block has no checksum: there the archive's sha256 and the
  // paths.json hashes, checked by the package cache, catch damage).
  if (format === 'tar.bz2') {
    test('an archive cut inside a large file is refused, without hanging', async () => {
      const big = Buffer.from(Array.from({ length: 6 << 20 }, (_, i) => (i * 2654435761) >>> 24));
      const built = await buildPackage({ name: 'cut', version: '1.0', format, files: { 'share/big.bin': big, 'share/small': 's\n' } }, path.join(work, 'ch'));
      const data = await fs.readFile(built.path);
      await fs.writeFile(built.path, data.subarray(0, Math.floor(data.length * 0.6)));
      const dest = path.join(work, 'dest');
      await fs.mkdir(dest);
      await expect(extractPackage(built.path, dest, built.dist, decoder)).rejects.toThrow(PackageError);
    });
  }

  test('a damaged archive is a PackageError naming the package', async () => {
    const built = await buildPackage({ ...honest, format }, path.join(work, 'ch'));
    const data = await fs.readFile(built.path);
    await fs.writeFile(built.path, data.subarray(0, Math.floor(data.length / 2)));
    const dest = path.join(work, 'dest');
    await fs.mkdir(dest);
    await expect(extractPackage(built.path, dest, built.dist, decoder)).rejects.toThrow(PackageError);
  });

  test('data after the end-of-archive blocks is never read (1 GB of zeros in a few kB)', async () => {
    const built = await withTail(await buildPackage({ ...honest, format }, path.join(work, 'ch')), 1_000_000_000);
    expect(built.size).toBeLessThan(100_000);
    const dest = path.join(work, 'dest');
    await fs.mkdir(dest);
    await extractPackage(built.path, dest, built.dist, decoder);
    expect(await fs.readFile(path.join(dest, 'share/readme'), 'utf8')).toBe('hi\n');
  });

  test('the decompressed tar counts against the size limit, end-of-archive blocks and all', async () => {
    // entries of 10 bytes in all, but 200 kB of zero blocks before the end: over a 100 kB limit
    const built = await buildPackage(
      {
        name: 'padded',
        version: '1.0',
        format,
        files: { 'share/a': '0123456789' },
        hostile: { payload: (entries) => [...entries, ...Array<TarEntry>(400).fill({ path: 'share/pad', type: 'directory' })] },
      },
      path.join(work, 'ch'),
    );
    const dest = path.join(work, 'dest');
    await fs.mkdir(dest);
    await expect(extractPackage(built.path, dest, built.dist, { ...decoder, maxBytes: 100_000 })).rejects.toThrow(/refused: .*size limit/);
  });

  test('group and other write bits are dropped from files and directories, whatever the umask', async () => {
    const built = await buildPackage(
      {
        name: 'writable',
        version: '1.0',
        format,
        files: { 'share/data': { content: 'd', mode: 0o666 }, 'bin/tool': { content: 't', mode: 0o777 } },
        hostile: {
          rawEntries: [
            { path: 'share/open', type: 'directory', mode: 0o777 },
            { path: 'share/open/x', data: 'x', mode: 0o664 },
          ],
        },
      },
      path.join(work, 'ch'),
    );
    const dest = path.join(work, 'dest');
    await fs.mkdir(dest);
    const umask = process.umask(0);
    try {
      await extractPackage(built.path, dest, built.dist, decoder);
    } finally {
      process.umask(umask);
    }
    const mode = async (p: string) => ((await fs.stat(path.join(dest, p))).mode & 0o7777).toString(8);
    expect(await Promise.all(['share/data', 'bin/tool', 'share/open', 'share/open/x', 'share', 'info'].map(mode))).toEqual(['644', '755', '755', '644', '755', '755']);
  });
});

test('a .conda: a soft link of its pkg tar is never written through by its info tar', async () => {
  await fs.writeFile(path.join(work, 'outside.txt'), 'keep');
  const built = await buildPackage(
    {
      name: 'two-tars',
      version: '1.0',
      files: { 'share/ok': 'ok\n' },
      // each inside on paper; together `info` is the directory above the package
      hostile: {
        rawEntries: [
          { path: 'a/b', type: 'symlink', linkpath: '..' },
          { path: 'info', type: 'symlink', linkpath: 'a/b/..' },
        ],
      },
    },
    path.join(work, 'ch'),
  );
  const dest = path.join(work, 'x', 'dest');
  await fs.mkdir(dest, { recursive: true });
  await expect(extractPackage(built.path, dest, built.dist)).rejects.toThrow(/would be written through the soft link info/);
  await fs.rm(dest, { recursive: true, force: true }); // as the package cache does with its scratch directory
  expect(await tree(path.join(work, 'x'))).toEqual([]);
  expect(await fs.readdir(work)).toEqual(expect.not.arrayContaining(['index.json', 'paths.json']));
});

describe('issue 16 item 1: a .conda metapackage', () => {
  test.each([
    ['no bytes at all', Buffer.alloc(0)],
    ['only the end-of-archive blocks', writeTar([])],
  ])('whose pkg tar holds %s installs its info', async (_what, tar) => {
    const built = await buildPackage({ name: 'meta', version: '1.0', depends: ['honest'], hostile: { condaMembers: { pkg: zstdCompress(tar) } } }, path.join(work, 'ch'));
    const dest = path.join(work, 'dest');
    await fs.mkdir(dest);
    await extractPackage(built.path, dest, built.dist);
    expect(await tree(dest)).toEqual(expect.arrayContaining(['info/index.json', 'info/paths.json']));
  });
});

describe('the system bzip2', () => {
  test('a failing bzip2 is a PackageError carrying its exit code and stderr tail', async () => {
    const built = await buildPackage({ ...honest, format: 'tar.bz2' }, path.join(work, 'ch'));
    // A stand-in that writes part of a tar and fails, as bzip2 does on a damaged block.
    const fake = path.join(work, 'fake bzip2');
    await fs.writeFile(fake, '#!/bin/sh\nprintf "partial"\necho "bzip2: data integrity (CRC) error in data" >&2\nexit 2\n', { mode: 0o755 });
    const dest = path.join(work, 'dest');
    await fs.mkdir(dest);
    const err = await extractPackage(built.path, dest, built.dist, { bzip2: fake }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PackageError);
    expect((err as Error).message).toMatch(/^honest-1\.0-0: cannot extract .*exit code 2.*\n.*data integrity \(CRC\) error/s);
  });

  test('gives the same tree, modes and digests as the JS decoder', async () => {
    const bzip2 = await systemBzip2();
    if (!bzip2) return; // nothing to compare on a machine without bzip2
    const built = await buildPackage({ ...honest, format: 'tar.bz2' }, path.join(work, 'ch'));
    const extracted = await Promise.all(
      [bzip2, false as const].map(async (decoder, i) => {
        const dest = path.join(work, `dest-${i}`);
        await fs.mkdir(dest);
        const digests = await extractPackage(built.path, dest, built.dist, { bzip2: decoder });
        const modes = await Promise.all((await tree(dest)).map(async (rel) => `${rel} ${(await fs.lstat(path.join(dest, rel))).mode}`));
        return { digests: [...digests].sort(), modes };
      }),
    );
    expect(extracted[0].modes.length).toBeGreaterThan(5);
    expect(extracted[0]).toEqual(extracted[1]);
  });
});
