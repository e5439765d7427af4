/**
 * The package cache on a real file system: conda's layout, completion markers, corrupt entries
 * redone, concurrent users of one entry, stale locks taken over, no credentials in its metadata.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { LockedPackage } from '../../src/conda/types.js';
import { digestFile, type Digest, type Expected } from '../../src/installer/download.js';
import { COMPLETE_MARKER, PackageCache } from '../../src/installer/package-cache.js';
import { readPackageInfo, storedPackageInfo } from '../../src/installer/package-info.js';
import { PackageError } from '../../src/util/errors.js';
import { MemoryLogger } from '../../src/util/logger.js';
import { buildPackage, type BuiltPackage, type PackageSpec } from '../fixtures/channel/index.js';

let work: string;
let cacheDir: string;
let downloads: string[];

beforeEach(async () => {
  work = await fs.mkdtemp(path.join(os.tmpdir(), 'gitenv-cache-'));
  cacheDir = path.join(work, 'pkgs');
  downloads = [];
});
afterEach(async () => {
  await fs.rm(work, { recursive: true, force: true });
});

const spec: PackageSpec = { name: 'tool', version: '2.1', build: 'h9_1', files: { 'bin/tool': { content: 'run\n', mode: 0o755 }, 'share/a': 'a\n' } };

/** A locked package whose URL carries credentials the cache must never write down. */
function locked(p: BuiltPackage): LockedPackage {
  const channel = 'https://bob:hunter22@conda.example/t/tok-9876/private';
  return { url: `${channel}/${p.subdir}/${p.fn}`, channel, subdir: p.subdir, fn: p.fn, dist: p.dist, sha256: p.sha256, size: p.size };
}

/** A cache whose "network" copies the built archive (slowly, when asked), counting downloads. */
function cache(built: BuiltPackage, delayMs = 0): PackageCache {
  return new PackageCache(cacheDir, {
    logger: new MemoryLogger(),
    lockStaleMs: 5000,
    download: async (_url: string, dest: string, _expect: Expected): Promise<Digest> => {
      downloads.push(dest);
      if (delayMs) await new Promise((r) => setTimeout(r, delayMs));
      await fs.copyFile(built.path, dest);
      return digestFile(dest);
    },
  });
}

test('fills <cache>/<dist>/ with repodata_record.json and the marker, keeps no archive, no credentials', async () => {
  const built = await buildPackage(spec, path.join(work, 'ch'));
  const entry = await cache(built).ensure(locked(built), 'unused');
  expect(entry).toMatchObject({ dir: path.join(cacheDir, built.dist), hit: false, downloadedBytes: built.size });
  expect(entry.digest.sha256).toBe(built.sha256);
  expect(await fs.readFile(path.join(entry.dir, 'bin/tool'), 'utf8')).toBe('run\n');
  const record = JSON.parse(await fs.readFile(path.join(entry.dir, 'info/repodata_record.json'), 'utf8'));
  expect(record).toMatchObject({ name: 'tool', version: '2.1', build: 'h9_1', fn: built.fn, sha256: built.sha256, md5: built.md5, size: built.size });
  expect(record.url).toBe(`https://conda.example/t/***/private/linux-64/${built.fn}`);
  const everything = (
    await Promise.all(
      (await fs.readdir(cacheDir, { recursive: true })).map(async (f) => {
        const full = path.join(cacheDir, String(f));
        return (await fs.lstat(full)).isFile() ? fs.readFile(full, 'latin1') : '';
      }),
    )
  ).join('\n');
  expect(everything).not.toContain('hunter22');
  expect(everything).not.toContain('tok-9876');
  // The archive was downloaded to <cache>/<fn> (this downloader writes files), extracted, removed:
  // no archive, lock, scratch or partial left.
  expect(downloads).toEqual([path.join(cacheDir, built.fn)]);
  expect(await fs.readdir(cacheDir)).toEqual([built.dist]);
});

test('a complete entry is a hit: no download, no extraction', async () => {
  const built = await buildPackage(spec, path.join(work, 'ch'));
  await cache(built).ensure(locked(built), 'unused');
  const marker = await fs.stat(path.join(cacheDir, built.dist, COMPLETE_MARKER));
  const again = await cache(built).ensure(locked(built), 'unused');
  expect(again.hit).toBe(true);
  expect(again.downloadedBytes).toBe(0);
  expect(downloads).toHaveLength(1);
  expect((await fs.stat(path.join(cacheDir, built.dist, COMPLETE_MARKER))).mtimeMs).toBe(marker.mtimeMs);
});

test('a complete entry of this build is used without its lock, even while someone holds it', async () => {
  const built = await buildPackage(spec, path.join(work, 'ch'));
  await cache(built).ensure(locked(built), 'unused');
  const lock = path.join(cacheDir, `${built.dist}.lock`);
  await fs.mkdir(lock); // a live holder's lock (fresh: not stale for 5 s)
  const again = await cache(built).ensure(locked(built), 'unused');
  expect(again).toMatchObject({ hit: true, downloadedBytes: 0, dir: path.join(cacheDir, built.dist) });
  expect((await fs.stat(lock)).isDirectory()).toBe(true); // neither waited for nor taken over
  expect(downloads).toHaveLength(1);
});

test('an extracted directory without its marker does not count: filled again', async () => {
  const built = await buildPackage(spec, path.join(work, 'ch'));
  await cache(built).ensure(locked(built), 'unused');
  await fs.rm(path.join(cacheDir, built.dist, COMPLETE_MARKER));
  await fs.rm(path.join(cacheDir, built.dist, 'share/a')); // half-extracted, as after a crash
  const entry = await cache(built).ensure(locked(built), 'unused');
  expect(entry.hit).toBe(false);
  expect(downloads).toHaveLength(2); // no archive kept: downloaded again
  expect(await fs.readFile(path.join(entry.dir, 'share/a'), 'utf8')).toBe('a\n');
  expect(await fs.readdir(cacheDir)).toEqual([built.dist]);
});

test('an archive already in the cache (an earlier gitenv kept them; a run killed before extracting) is used when it matches, then removed', async () => {
  const built = await buildPackage(spec, path.join(work, 'ch'));
  await fs.mkdir(cacheDir, { recursive: true });
  await fs.copyFile(built.path, path.join(cacheDir, built.fn));
  const entry = await cache(built).ensure(locked(built), 'unused');
  expect(downloads).toHaveLength(0);
  expect(entry).toMatchObject({ hit: false, downloadedBytes: 0 });
  expect(await fs.readFile(path.join(entry.dir, 'share/a'), 'utf8')).toBe('a\n');
  expect(await fs.readdir(cacheDir)).toEqual([built.dist]);
});

test('a corrupt cached archive is downloaded again', async () => {
  const built = await buildPackage(spec, path.join(work, 'ch'));
  await fs.mkdir(cacheDir, { recursive: true });
  await fs.writeFile(path.join(cacheDir, built.fn), 'garbage');
  const entry = await cache(built).ensure(locked(built), 'unused');
  expect(downloads).toHaveLength(1);
  expect(entry.digest.sha256).toBe(built.sha256);
  expect(await fs.readdir(cacheDir)).toEqual([built.dist]);
});

test('an entry extracted from another build of the same name (hash mismatch) is redone', async () => {
  const first = await buildPackage(spec, path.join(work, 'ch1'));
  await cache(first).ensure(locked(first), 'unused');
  const second = await buildPackage({ ...spec, files: { ...spec.files, 'share/a': 'changed\n' } }, path.join(work, 'ch2'));
  expect(second.dist).toBe(first.dist);
  const entry = await cache(second).ensure(locked(second), 'unused');
  expect(entry.hit).toBe(false);
  expect(await fs.readFile(path.join(entry.dir, 'share/a'), 'utf8')).toBe('changed\n');
  expect((await fs.readdir(cacheDir)).filter((n) => n.startsWith('.trash'))).toEqual([]);
});

test('two users of one cache at once: one downloads, both get the complete entry', async () => {
  const built = await buildPackage(spec, path.join(work, 'ch'));
  const [a, b] = await Promise.all([cache(built, 300).ensure(locked(built), 'unused'), cache(built, 300).ensure(locked(built), 'unused')]);
  expect(downloads).toHaveLength(1);
  expect([a.hit, b.hit].sort()).toEqual([false, true]);
  expect(a.dir).toBe(b.dir);
});

test('a lock left by a dead process is taken over once stale', async () => {
  const built = await buildPackage(spec, path.join(work, 'ch'));
  await fs.mkdir(path.join(cacheDir, `${built.dist}.lock`), { recursive: true });
  const old = new Date(Date.now() - 60_000);
  await fs.utimes(path.join(cacheDir, `${built.dist}.lock`), old, old);
  const entry = await cache(built).ensure(locked(built), 'unused');
  expect(entry.hit).toBe(false);
  expect(await fs.readdir(cacheDir)).not.toContain(`${built.dist}.lock`);
});

test('a package whose paths.json lies about a size or a hash is refused, and leaves no entry', async () => {
  for (const lie of ['size', 'hash'] as const) {
    const built = await buildPackage(
      {
        ...spec,
        name: `liar-${lie}`,
        hostile: {
          paths: (entries) => entries.map((e) => (e._path !== 'share/a' ? e : lie === 'size' ? { ...e, size_in_bytes: 999 } : { ...e, sha256: '0'.repeat(64) })),
        },
      },
      path.join(work, 'ch'),
    );
    const err = await cache(built)
      .ensure(locked(built), 'unused')
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PackageError);
    expect((err as Error).message).toContain(`${built.dist}: share/a`);
    expect(await fs.readdir(cacheDir)).not.toContain(built.dist);
    expect((await fs.readdir(cacheDir)).filter((n) => n.startsWith('.extract'))).toEqual([]);
  }
});

test('a hostile archive leaves neither an entry nor a scratch directory', async () => {
  const built = await buildPackage({ ...spec, name: 'evil', hostile: { rawEntries: [{ path: '../../escape', data: 'x' }] } }, path.join(work, 'ch'));
  await expect(cache(built).ensure(locked(built), 'unused')).rejects.toThrow(`${built.dist}: refused`);
  expect(await fs.readdir(cacheDir)).toEqual([]); // not even the archive
});

test('sweep removes what killed runs left behind, once old, and nothing else', async () => {
  const built = await buildPackage(spec, path.join(work, 'ch'));
  const c = cache(built);
  await c.ensure(locked(built), 'unused');
  const leftovers = [`.extract-${built.dist}-123-abcd1234`, `.trash-${built.dist}-0badf00d`, `${built.fn}.partial-123-deadbeef`];
  for (const name of leftovers) await fs.mkdir(path.join(cacheDir, name));
  // Archives: one an earlier gitenv kept (or a killed run left between download and extraction), old;
  // one being extracted right now, young; and a directory with an archive's name, which is not one.
  await fs.writeFile(path.join(cacheDir, 'kept-1.0-0.tar.bz2'), 'x');
  leftovers.push('kept-1.0-0.tar.bz2');
  await fs.mkdir(path.join(cacheDir, 'odd-1-0.conda'));
  await fs.utimes(path.join(cacheDir, 'odd-1-0.conda'), new Date(0), new Date(0));
  await fs.writeFile(path.join(cacheDir, 'now-1.0-0.conda'), 'x');
  // A soft link with an archive's name, leading out: neither followed nor taken for an archive.
  await fs.writeFile(path.join(work, 'outside.conda'), 'keep');
  await fs.symlink(path.join(work, 'outside.conda'), path.join(cacheDir, 'link-1-0.conda'));
  await fs.lutimes(path.join(cacheDir, 'link-1-0.conda'), new Date(0), new Date(0));
  const young = `.extract-${built.dist}-456-feedface`;
  await fs.mkdir(path.join(cacheDir, young));
  const old = new Date(Date.now() - 2 * 3_600_000);
  for (const name of leftovers) await fs.utimes(path.join(cacheDir, name), old, old);
  await c.sweep();
  expect((await fs.readdir(cacheDir)).sort()).toEqual([young, built.dist, 'link-1-0.conda', 'now-1.0-0.conda', 'odd-1-0.conda'].sort());
  expect(await fs.readFile(path.join(work, 'outside.conda'), 'utf8')).toBe('keep');
});

describe("the package's info kept in the marker", () => {
  const withPrefix: PackageSpec = {
    name: 'tool',
    version: '2.1',
    build: 'h9_1',
    files: { 'bin/tool': { content: '#!/bin/sh\necho @PREFIX@\n', mode: 0o755, prefix: 'text' }, 'share/a': 'a\n' },
    softlinks: { 'bin/tool-link': 'tool' },
  };

  test('given on a fill and on a hit, as read from the files; a hit reads none of them', async () => {
    const built = await buildPackage(withPrefix, path.join(work, 'ch'));
    const filled = await cache(built).ensure(locked(built), 'unused');
    const fromFiles = await readPackageInfo(filled.dir, built.dist);
    expect(filled.info).toEqual(fromFiles);
    // The files the info came from are gone: a hit still has it, from the marker alone.
    for (const f of ['index.json', 'paths.json']) await fs.rm(path.join(filled.dir, 'info', f));
    const hit = await cache(built).ensure(locked(built), 'unused');
    expect(hit.hit).toBe(true);
    expect(hit.info).toEqual(fromFiles);
    expect(hit.info?.paths.find((p) => p.path === 'bin/tool')).toMatchObject({ pathType: 'hardlink', prefixPlaceholder: expect.any(String), fileMode: 'text' });
  });

  test('a marker without it (an earlier gitenv), or with one edited to lead out of the prefix, gives none: the files are read', async () => {
    const built = await buildPackage(withPrefix, path.join(work, 'ch'));
    const filled = await cache(built).ensure(locked(built), 'unused');
    const markerFile = path.join(filled.dir, COMPLETE_MARKER);
    const marker = JSON.parse(await fs.readFile(markerFile, 'utf8')) as Record<string, unknown> & { info: { paths: { path: string }[] } };
    const edits: [string, (m: typeof marker) => void][] = [
      ['no info', (m) => delete (m as Partial<typeof marker>).info],
      ['a path out', (m) => (m.info.paths[0].path = '../../etc/passwd')],
      ['an absolute path', (m) => (m.info.paths[0].path = '/etc/passwd')],
      ['another name', (m) => ((m.info as unknown as { index: { name: string } }).index.name = 'other')],
      ['not a list', (m) => ((m.info as unknown as { paths: unknown }).paths = 'bin/tool')],
      ['a wrong type', (m) => ((m.info.paths[0] as unknown as { pathType: string }).pathType = 'device')],
    ];
    for (const [what, edit] of edits) {
      const copy = structuredClone(marker);
      edit(copy);
      await fs.writeFile(markerFile, JSON.stringify(copy));
      const hit = await cache(built).ensure(locked(built), 'unused');
      expect({ what, hit: hit.hit, info: hit.info }).toEqual({ what, hit: true, info: undefined });
    }
  });
});

test('storedPackageInfo takes a well-formed info and nothing else', () => {
  const info = {
    index: { name: 'tool', version: '2.1', build: 'h9_1', build_number: 1 },
    paths: [{ path: 'bin//tool', pathType: 'hardlink', sha256: 'ab', size: 3 }],
    noarchPython: false,
    entryPoints: [],
  };
  expect(storedPackageInfo(structuredClone(info), 'tool-2.1-h9_1')?.paths[0].path).toBe('bin/tool');
  expect(storedPackageInfo(structuredClone(info), 'tool-2.2-h9_1')).toBeUndefined();
  expect(storedPackageInfo({ ...structuredClone(info), paths: [{ path: 'a\0b', pathType: 'hardlink' }] }, 'tool-2.1-h9_1')).toBeUndefined();
  expect(storedPackageInfo({ ...structuredClone(info), paths: [{ path: 'a', pathType: 'hardlink', size: '3' }] }, 'tool-2.1-h9_1')).toBeUndefined();
  expect(storedPackageInfo({ ...structuredClone(info), entryPoints: [1] }, 'tool-2.1-h9_1')).toBeUndefined();
  expect(storedPackageInfo(null, 'tool-2.1-h9_1')).toBeUndefined();
  expect(storedPackageInfo('x', 'tool-2.1-h9_1')).toBeUndefined();
});
