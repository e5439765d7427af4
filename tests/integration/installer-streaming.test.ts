/**
 * A `.conda` is extracted from its download's bytes as they arrive (package-cache.ts,
 * extract.ts's extractCondaStream): over loopback HTTP, with the real downloader. What is extracted
 * only becomes the cache entry once the whole archive matched the lock; a corrupt, truncated, stalled
 * or retried download leaves no entry (and nothing half-made that could pass for one), and an archive
 * the stream cannot settle is extracted from the downloaded file as before.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable, Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import type { LockedPackage } from '../../src/conda/types.js';
import { TapOnlyUnverified, downloadVerified, type Expected } from '../../src/installer/download.js';
import { extractCondaStream, extractPackage, NotStreamable, RefusedArchive } from '../../src/installer/extract.js';
import { ExtractPool } from '../../src/installer/extract-pool.js';
import { COMPLETE_MARKER, PackageCache } from '../../src/installer/package-cache.js';
import { PackageError } from '../../src/util/errors.js';
import { MemoryLogger } from '../../src/util/logger.js';
import { buildPackage, serveChannel, type BuiltPackage, type ChannelServer, type PackageSpec } from '../fixtures/channel/index.js';

let work: string;
let server: ChannelServer;
let logger: MemoryLogger;

beforeAll(async () => {
  work = await fs.mkdtemp(path.join(os.tmpdir(), 'gitenv-stream-'));
  server = await serveChannel(path.join(work, 'srv'), { stallMs: 60_000 });
});
afterAll(async () => {
  await server.close();
  await fs.rm(work, { recursive: true, force: true });
});
beforeEach(() => {
  server.setFault(null);
  logger = new MemoryLogger();
});

let seq = 0;
const files: PackageSpec['files'] = {
  'bin/tool': { content: '#!/bin/sh\necho tool\n', mode: 0o755 },
  'share/tool/big.dat': 'x'.repeat(300_000),
  ...Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`share/tool/f${i}.txt`, `file ${i}\n`.repeat(50)])),
};

async function built(spec: Partial<PackageSpec> = {}): Promise<BuiltPackage> {
  return buildPackage({ name: 'tool', version: '1.0', build: `h${seq++}_0`, files, ...spec }, path.join(work, 'srv', 'ch', 'linux-64'));
}

function locked(p: BuiltPackage): LockedPackage {
  const url = `${server.url}/ch/linux-64/${p.fn}`;
  return { url, channel: `${server.url}/ch`, subdir: 'linux-64', fn: p.fn, dist: p.dist, sha256: p.sha256, md5: p.md5, size: p.size };
}

/** The extraction threads the caches of a test use (undefined: the process's; null: none, the main thread). */
let pool: ExtractPool | null | undefined;

function cache(dir: string, idleTimeoutMs = 30_000): PackageCache {
  return new PackageCache(dir, {
    logger,
    extractPool: pool,
    download: (url: string, dest: string, expect: Expected, pkg: string, tap, tapOnly) =>
      downloadVerified(url, dest, expect, pkg, { fetch, logger, tap, tapOnly, idleTimeoutMs, retry: { attempts: 2, baseDelayMs: 10, maxDelayMs: 20 } }),
  });
}

const cacheDir = () => fs.mkdtemp(path.join(work, 'pkgs-'));
const requestsFor = (p: BuiltPackage) => server.requests.filter((r) => r.path.endsWith(`/${p.fn}`)).length;
const debugLines = () => logger.lines('debug').join('\n');

describe.each([
  ['in extraction threads', undefined],
  ['in the main thread', null],
] as const)('%s', (_where, chosen) => {
  beforeEach(() => {
    pool = chosen;
  });

  test('a .conda is extracted while it downloads: the same entry as from the file, marker last', async () => {
    const pkg = await built();
    const dir = await cacheDir();
    const entry = await cache(dir).ensure(locked(pkg), locked(pkg).url);
    expect(debugLines()).toContain(`${pkg.dist}: extracted while downloading`);
    expect(entry).toMatchObject({ hit: false, downloadedBytes: pkg.size });
    expect(entry.digest.sha256).toBe(pkg.sha256);
    // The same files, modes and contents as extracting the archive from a file.
    const fromFile = path.join(work, `from-file-${seq}`);
    await fs.mkdir(fromFile);
    await extractPackage(pkg.path, fromFile, pkg.dist);
    for (const p of pkg.paths) {
      const [a, b] = await Promise.all([fs.lstat(path.join(entry.dir, p._path)), fs.lstat(path.join(fromFile, p._path))]);
      expect([p._path, a.mode, a.size]).toEqual([p._path, b.mode, b.size]);
      expect(await fs.readFile(path.join(entry.dir, p._path))).toEqual(await fs.readFile(path.join(fromFile, p._path)));
    }
    expect(JSON.parse(await fs.readFile(path.join(entry.dir, COMPLETE_MARKER), 'utf8'))).toMatchObject({ sha256: pkg.sha256 });
    expect(await fs.readdir(dir)).toEqual([pkg.dist]); // no archive, scratch, partial or lock left
    expect(requestsFor(pkg)).toBe(1);
  });

  test('a lock with md5 only: the bytes are verified by md5 (taken where they are hashed), and a wrong md5 is refused', async () => {
    const pkg = await built();
    const dir = await cacheDir();
    const md5Only: LockedPackage = { ...locked(pkg), sha256: undefined };
    const entry = await cache(dir).ensure(md5Only, md5Only.url);
    expect(debugLines()).toContain(`${pkg.dist}: extracted while downloading`);
    expect(entry.digest).toEqual({ sha256: pkg.sha256, md5: pkg.md5, size: pkg.size });
    const other = await cacheDir();
    const wrong: LockedPackage = { ...md5Only, md5: '0'.repeat(32) };
    await expect(cache(other).ensure(wrong, wrong.url)).rejects.toThrow(/md5 [0-9a-f]{32} differs from the expected 0{32}/);
    expect(await fs.readdir(other)).toEqual([]);
  });

  test('an entry whose files are all readable by anyone says so in its marker; one with a private file does not', async () => {
    const umask = process.umask(0o022); // as deploy runs; under 077 no entry would be readable
    try {
      const dir = await cacheDir();
      const open = await built();
      expect((await cache(dir).ensure(locked(open), locked(open).url)).readable).toBe(true);
      const privy = await built({ files: { ...files, 'share/tool/secret': { content: 'x\n', mode: 0o600 } } });
      expect((await cache(dir).ensure(locked(privy), locked(privy).url)).readable).toBe(false);
      // Read back from the markers, as a later install finds them.
      const again = cache(dir);
      expect((await again.ensure(locked(open), locked(open).url)).readable).toBe(true);
      expect((await again.ensure(locked(privy), locked(privy).url)).readable).toBe(false);
    } finally {
      process.umask(umask);
    }
  });

  test('a corrupt download (one byte flipped) is refused and leaves no cache entry, no scratch, no partial file', async () => {
    const pkg = await built();
    const dir = await cacheDir();
    server.setFault({ type: 'corrupt' });
    const err = await cache(dir)
      .ensure(locked(pkg), locked(pkg).url)
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PackageError);
    expect((err as Error).message).toMatch(/sha256 .* differs from the expected/);
    expect(await fs.readdir(dir)).toEqual([]);
  });

  test('a body truncated every time is refused and leaves nothing; once, the retry is extracted from the file', async () => {
    const pkg = await built();
    const dir = await cacheDir();
    server.setFault({ type: 'truncate' });
    await expect(cache(dir).ensure(locked(pkg), locked(pkg).url)).rejects.toThrow(/download of .* failed/);
    expect(await fs.readdir(dir)).toEqual([]);

    server.setFault({ match: pkg.fn, times: 1, fault: { type: 'truncate' } });
    const entry = await cache(dir).ensure(locked(pkg), locked(pkg).url);
    // The first attempt's bytes were being extracted: thrown away, the verified retry's file extracted.
    expect(debugLines()).toMatch(new RegExp(`${pkg.dist}: not extracted while downloading \\(.+\\); extracting the archive`));
    expect(await fs.readFile(path.join(entry.dir, 'share/tool/f3.txt'), 'utf8')).toBe('file 3\n'.repeat(50));
    expect(await fs.readdir(dir)).toEqual([pkg.dist]);
  });

  test('a download stalled mid-body leaves the cache recognisably incomplete, then nothing once it fails', async () => {
    const pkg = await built();
    const dir = await cacheDir();
    server.setFault({ type: 'stall', afterBytes: Math.floor(pkg.size * 0.6), ms: 3_000 });
    const filling = cache(dir, 1_000)
      .ensure(locked(pkg), locked(pkg).url)
      .catch((e: unknown) => e);
    // While the body stalls: a scratch directory (what a killed deploy would leave), never the entry.
    let names: string[] = [];
    for (let i = 0; i < 100 && !names.some((n) => n.startsWith('.extract-')); i++) {
      await new Promise((r) => setTimeout(r, 20));
      names = await fs.readdir(dir);
    }
    const scratch = names.find((n) => n.startsWith(`.extract-${pkg.dist}-`));
    expect(scratch).toBeDefined();
    expect(names).not.toContain(pkg.dist);
    // In the threads, the bytes go to the extraction alone; in the main thread, to a file too.
    expect(names.some((n) => n.startsWith(`${pkg.fn}.partial-`))).toBe(chosen === null);
    await expect(fs.access(path.join(dir, scratch as string, COMPLETE_MARKER))).rejects.toThrow();
    expect(await filling).toBeInstanceOf(PackageError);
    expect((await fs.readdir(dir)).filter((n) => !n.endsWith('.lock'))).toEqual([]);
  }, 30_000);

  test('an archive the stream cannot settle (sizes after the data) is extracted from the downloaded file', async () => {
    // General purpose flag bit 3 on the first member: its sizes would follow its data.
    const pkg = await built({ hostile: { archive: (zip: Buffer) => withDataDescriptorFlag(zip) } });
    const dir = await cacheDir();
    const entry = await cache(dir).ensure(locked(pkg), locked(pkg).url);
    expect(debugLines()).toMatch(new RegExp(`${pkg.dist}: not extracted while downloading \\(.*size follows its data\\); extracting the archive`));
    expect(await fs.readFile(path.join(entry.dir, 'bin/tool'), 'utf8')).toBe('#!/bin/sh\necho tool\n');
    expect(await fs.readdir(dir)).toEqual([pkg.dist]);
    // The threads' download kept no file: the archive was fetched again to extract it (rare: conda's
    // and rattler's writers put the sizes first).
    expect(requestsFor(pkg)).toBe(chosen === null ? 1 : 2);
    if (chosen !== null) expect(debugLines()).toContain(`${pkg.dist}: its bytes were not kept while they were extracted; downloading the archive again`);
  });

  test('a hostile archive is refused from the stream as from the file, and nothing of it stays', async () => {
    const pkg = await built({ hostile: { rawEntries: [{ path: '../../escaped.txt', data: 'out\n' }] } });
    const dir = await cacheDir();
    const err = await cache(dir)
      .ensure(locked(pkg), locked(pkg).url)
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RefusedArchive);
    expect((err as Error).message).toMatch(new RegExp(`^${pkg.dist}: refused: .*escaped\\.txt`));
    expect(await fs.readdir(dir)).toEqual([]); // not even the archive
    await expect(fs.access(path.join(dir, '..', 'escaped.txt'))).rejects.toThrow();
    await expect(fs.access(path.join(work, 'escaped.txt'))).rejects.toThrow();
    // The refusal of bytes that matched the lock is final: the archive is not fetched again to say it.
    expect(requestsFor(pkg)).toBe(1);
    expect(debugLines()).not.toContain(`${pkg.dist}: its bytes were not kept`);
  });

  test('a refusal found once every byte is in (a chain of soft links leading out) is final too, and the archive fetched once', async () => {
    const pkg = await built({
      hostile: {
        rawEntries: [
          { path: 'a/b', type: 'symlink', linkpath: '..' },
          { path: 'c', type: 'symlink', linkpath: 'a/b/..' },
        ],
      },
    });
    const dir = await cacheDir();
    const err = await cache(dir)
      .ensure(locked(pkg), locked(pkg).url)
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RefusedArchive);
    expect((err as Error).message).toMatch(/leads out of the package through other links/);
    expect(await fs.readdir(dir)).toEqual([]);
    expect(requestsFor(pkg)).toBe(1);
  });

  test('a refusal counts only for the bytes the lock names: a hostile archive served in place of the locked one fails its hash', async () => {
    const benign = await built();
    // Built under the same file name: the server now serves the hostile archive at the benign one's URL.
    const hostile = await buildPackage(
      { name: 'tool', version: '1.0', build: benign.record.build, files, hostile: { rawEntries: [{ path: '../../escaped.txt', data: 'out\n' }] } },
      path.join(work, 'srv', 'ch', 'linux-64'),
    );
    expect(hostile.fn).toBe(benign.fn);
    const dir = await cacheDir();
    const err = await cache(dir)
      .ensure(locked(benign), locked(benign).url)
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PackageError);
    expect(err).not.toBeInstanceOf(RefusedArchive);
    expect((err as Error).message).toMatch(/differs from the expected|larger than the expected|bytes, not the expected/);
    expect((await fs.readdir(dir)).filter((n) => !n.endsWith('.lock'))).toEqual([]);
    await expect(fs.access(path.join(work, 'escaped.txt'))).rejects.toThrow();
  });
});

async function until(check: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 250 && !(await check()); i++) await new Promise((r) => setTimeout(r, 20));
}
const exists = (p: string) =>
  fs.access(p).then(
    () => true,
    () => false,
  );

test('an extraction thread stopped mid-archive fails that extraction once it has stopped; a new thread takes the next', async () => {
  const own = new ExtractPool(1);
  const pkg = await built();
  const bytes = await fs.readFile(pkg.path);
  const dest = path.join(work, `stopped-${seq}`);
  const first = own.extract(dest, pkg.dist, {});
  first.tap.write(bytes.subarray(0, bytes.length >> 1));
  await until(() => exists(dest));
  await own.close();
  await expect(first.result).rejects.toThrow(/stopped/);
  const again = path.join(work, `again-${seq}`);
  const second = own.extract(again, pkg.dist, {});
  second.tap.end(bytes);
  expect((await second.result).get('bin/tool')).toMatchObject({ size: 20 });
  expect(await fs.readFile(path.join(again, 'share/tool/f3.txt'), 'utf8')).toBe('file 3\n'.repeat(50));
  await own.close();
});

test('a package whose extraction thread stopped mid-download is extracted from the downloaded file', async () => {
  const own = new ExtractPool(1);
  const pkg = await built();
  const bytes = await fs.readFile(pkg.path);
  const dir = await cacheDir();
  const filler = new PackageCache(dir, {
    logger,
    extractPool: own,
    // A download that loses its extraction thread half way: the bytes still arrive whole and verified.
    download: async (_url, dest, _expect, _pkg, tap) => {
      tap?.write(bytes.subarray(0, bytes.length >> 1));
      await until(async () => (await fs.readdir(dir)).some((n) => n.startsWith('.extract-')));
      await own.close();
      tap?.write(bytes.subarray(bytes.length >> 1));
      await fs.writeFile(dest, bytes);
      tap?.end();
      return { sha256: pkg.sha256, md5: pkg.md5, size: pkg.size };
    },
  });
  const entry = await filler.ensure(locked(pkg), locked(pkg).url);
  expect(debugLines()).toMatch(new RegExp(`${pkg.dist}: not extracted while downloading \\(the extraction threads were stopped\\); extracting the archive`));
  expect(await fs.readFile(path.join(entry.dir, 'share/tool/f3.txt'), 'utf8')).toBe('file 3\n'.repeat(50));
  expect(await fs.readdir(dir)).toEqual([pkg.dist]);
});

test('a tap-only download writes no file: its bytes go to the extraction thread, whose hash verifies them; without that hash, TapOnlyUnverified', async () => {
  const own = new ExtractPool(1);
  try {
    const pkg = await built();
    const dir = await cacheDir();
    const dest = path.join(dir, pkg.fn);
    const expect_: Expected = { sha256: pkg.sha256, md5: pkg.md5, size: pkg.size };
    const job = own.extract(path.join(dir, 'x'), pkg.dist, { archiveSize: pkg.size });
    const digest = await downloadVerified(locked(pkg).url, dest, expect_, pkg.dist, { fetch, logger, tap: job.tap, tapOnly: true });
    expect(digest).toMatchObject({ sha256: pkg.sha256, size: pkg.size });
    expect((await job.result).get('bin/tool')).toMatchObject({ size: 20 });
    expect(await fs.readdir(dir)).toEqual(['x']); // the extraction's directory; no archive, no partial file
    // A tap that cannot say what it hashed (its extraction stopped early, its thread died): nothing
    // verified the bytes, and there is no file to hash instead.
    const lost = Object.assign(new Writable({ write: (_c, _e, cb) => cb() }), { hashed: async () => undefined });
    lost.on('error', () => undefined); // destroyed with the failure, as the package cache's taps are
    const err = await downloadVerified(locked(pkg).url, dest, expect_, pkg.dist, { fetch, logger, tap: lost, tapOnly: true }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TapOnlyUnverified);
    expect(await fs.readdir(dir)).toEqual(['x']);
    // Without tapOnly, the same tap: the file is written and hashed instead.
    const lost2 = Object.assign(new Writable({ write: (_c, _e, cb) => cb() }), { hashed: async () => undefined });
    expect(await downloadVerified(locked(pkg).url, dest, expect_, pkg.dist, { fetch, logger, tap: lost2 })).toMatchObject({ sha256: pkg.sha256 });
    expect((await fs.readdir(dir)).sort()).toEqual([pkg.fn, 'x']);
  } finally {
    await own.close();
  }
});

test('small files written in synchronous calls (extraction threads) are what asynchronous writes make, a path twice included', async () => {
  const pkg = await built({ hostile: { rawEntries: [{ path: 'share/tool/f1.txt', data: 'later\n', mode: 0o600, mtime: 1_000_000 }] } });
  const bytes = await fs.readFile(pkg.path);
  const made = [];
  for (const syncWrites of [false, true]) {
    const dest = await fs.mkdtemp(path.join(work, 'sync-'));
    made.push({ dest, digests: await extractCondaStream(Readable.from([bytes.subarray(0, 777), bytes.subarray(777)]), dest, pkg.dist, { syncWrites }) });
  }
  const [asynchronous, synchronous] = made;
  expect([...synchronous.digests].sort()).toEqual([...asynchronous.digests].sort());
  for (const p of [...pkg.paths.map((q) => q._path), 'info/index.json']) {
    const [a, b] = await Promise.all([fs.lstat(path.join(asynchronous.dest, p)), fs.lstat(path.join(synchronous.dest, p))]);
    expect([p, b.mode, b.size, b.mtimeMs]).toEqual([p, a.mode, a.size, a.mtimeMs]);
    expect(await fs.readFile(path.join(synchronous.dest, p))).toEqual(await fs.readFile(path.join(asynchronous.dest, p)));
  }
  const later = await fs.lstat(path.join(synchronous.dest, 'share/tool/f1.txt'));
  expect([later.mode & 0o777, later.mtimeMs]).toEqual([0o600, 1_000_000_000]);
  expect(await fs.readFile(path.join(synchronous.dest, 'share/tool/f1.txt'), 'utf8')).toBe('later\n');
});

test('extractCondaStream refuses what it cannot settle: a data descriptor, a central directory that disagrees', async () => {
  const pkg = await built();
  const zip = await fs.readFile(pkg.path);
  const run = async (bytes: Buffer) => {
    const dest = await fs.mkdtemp(path.join(work, 'x-'));
    return extractCondaStream(Readable.from([bytes.subarray(0, 1000), bytes.subarray(1000)]), dest, pkg.dist);
  };
  await expect(run(withDataDescriptorFlag(zip))).rejects.toBeInstanceOf(NotStreamable);
  // The central directory says the pkg member starts elsewhere than where it was read.
  const moved = Buffer.from(zip);
  const cd = moved.indexOf(Buffer.from([0x50, 0x4b, 0x01, 0x02]));
  let at = cd;
  while (
    at >= 0 &&
    !moved
      .subarray(at + 46, at + 46 + moved.readUInt16LE(at + 28))
      .toString()
      .startsWith('pkg-')
  )
    at = moved.indexOf(Buffer.from([0x50, 0x4b, 0x01, 0x02]), at + 4);
  moved.writeUInt32LE(moved.readUInt32LE(at + 42) + 1, at + 42);
  await expect(run(moved)).rejects.toThrow(/central directory does not list pkg-/);
  // Untouched, it extracts.
  expect((await run(zip)).get('bin/tool')).toMatchObject({ size: 20 });
});

test("conda's own archives (zip64 sizes in every local header, as conda-package-handling writes them) stream; a zip64 header without its sizes does not", async () => {
  const archive = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'conda-test-packages', 'noarch', 'clobber-a-1.0-0.conda');
  const zip = await fs.readFile(archive);
  expect(zip.readUInt32LE(18 + 30 + zip.readUInt16LE(26) + 31)).toBe(0xffffffff); // the pkg member's local header, after metadata.json
  const streamed = await fs.mkdtemp(path.join(work, 'zip64-'));
  const digests = await extractCondaStream(Readable.from([zip.subarray(0, 100), zip.subarray(100)]), streamed, 'clobber-a-1.0-0');
  const fromFile = await fs.mkdtemp(path.join(work, 'zip64-file-'));
  expect([...digests].sort()).toEqual([...(await extractPackage(archive, fromFile, 'clobber-a-1.0-0'))].sort());
  expect(digests.size).toBeGreaterThan(0);
  // The zip64 extra field's id overwritten: the sizes are nowhere to be read.
  const hidden = Buffer.from(zip);
  let at = 0;
  while (hidden.readUInt32LE(at) === 0x04034b50) {
    const nameLength = hidden.readUInt16LE(at + 26);
    const extraLength = hidden.readUInt16LE(at + 28);
    if (extraLength >= 4) hidden.writeUInt16LE(0xcafe, at + 30 + nameLength);
    if (hidden.readUInt32LE(at + 18) === 0xffffffff) break;
    at += 30 + nameLength + extraLength + hidden.readUInt32LE(at + 18);
  }
  const dest = await fs.mkdtemp(path.join(work, 'zip64-hidden-'));
  await expect(extractCondaStream(Readable.from([hidden]), dest, 'clobber-a-1.0-0')).rejects.toThrow(/zip64 sizes missing/);
});

/** The zip with bit 3 (data descriptor) set in its first local header. */
function withDataDescriptorFlag(zip: Buffer): Buffer {
  const out = Buffer.from(zip);
  out.writeUInt16LE(out.readUInt16LE(6) | 0x0008, 6);
  return out;
}
