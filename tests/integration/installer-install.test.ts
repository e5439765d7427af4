/**
 * The builtin installer end to end: the fixture environment from the loopback channel server into a
 * staging directory that is then renamed to its final path, as deploy does.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { LockedPackage } from '../../src/conda/types.js';
import { BuiltinInstaller } from '../../src/installer/builtin-installer.js';
import { linkPackages } from '../../src/installer/link.js';
import { readPackageInfo } from '../../src/installer/package-info.js';
import { PackageError } from '../../src/util/errors.js';
import { MemoryLogger } from '../../src/util/logger.js';
import { buildFixtureEnv, lockedPackage, type FixtureEnv } from '../conformance/fixture-env.js';
import { run } from '../conformance/prefix-snapshot.js';
import { LONG_PLACEHOLDER, SHORT_PLACEHOLDER, buildChannel, cString, serveChannel, type ChannelServer, type PackageSpec } from '../fixtures/channel/index.js';

const EXTRA: PackageSpec[] = [
  { name: 'clobber-a', version: '1', files: { 'share/clobbered.txt': 'from a\n', 'share/a-only.txt': 'a\n' } },
  { name: 'clobber-b', version: '1', files: { 'share/clobbered.txt': 'from b\n' } },
  { name: 'emptydir', version: '1', files: { 'share/emptydir/keep': 'k\n' }, directories: ['share/emptydir/void'] },
];

let work: string;
let env: FixtureEnv;
let server: ChannelServer;
let packages: LockedPackage[];
let logger: MemoryLogger;
let prefix: string;
let cache: string;
const cwdBefore = process.cwd();

const CREDS = { user: 'carol', password: 'pa55-w0rd-xyz' };
const authFetch = (input: string | URL | Request, init?: RequestInit) =>
  fetch(input, { ...init, headers: { Authorization: `Basic ${Buffer.from(`${CREDS.user}:${CREDS.password}`).toString('base64')}` } });

async function install(target: string, options: { pkgs?: LockedPackage[]; mirror?: string; cacheDir?: string } = {}) {
  const staging = path.join(path.dirname(target), `.${path.basename(target)}.staging`);
  const report = await new BuiltinInstaller({ retry: { attempts: 2, baseDelayMs: 5, maxDelayMs: 50 } }).install({
    packages: options.pkgs ?? packages,
    prefix: target,
    stagingDir: staging,
    pkgCache: options.cacheDir ?? cache,
    requestedSpecs: ['greet', 'postie >=2'],
    mirror: options.mirror,
    fetch: authFetch,
    logger,
  });
  await fs.rename(staging, target);
  return report;
}

beforeAll(async () => {
  work = await fs.mkdtemp(path.join(os.tmpdir(), 'gitenv-install-'));
  env = (await buildFixtureEnv(path.join(work, 'srv'), EXTRA)) as FixtureEnv;
  server = await serveChannel(path.join(work, 'srv'), { auth: CREDS });
  packages = env.channel.packages.map((p) => lockedPackage(p, `${server.url}/fixture-channel`));
  logger = new MemoryLogger();
  prefix = path.join(work, 'envs', 'my env', '2024_05_01');
  cache = path.join(work, 'pkgs');
  await fs.mkdir(path.dirname(prefix), { recursive: true });
  await install(prefix);
});
afterAll(async () => {
  await server?.close();
  if (work) await fs.rm(work, { recursive: true, force: true });
});

const at = (rel: string) => path.join(prefix, rel);

test('text mode: every placeholder becomes the final prefix (not the staging directory)', async () => {
  expect(await fs.readFile(at('bin/foo-config'), 'utf8')).toBe(`#!/bin/sh\necho "prefix=${prefix} libdir=${prefix}/lib"\n`);
  expect(await fs.readFile(at('bin/python'), 'utf8')).toContain(`installed into ${prefix}\n`);
});

test('binary mode: same size, each C string rewritten in place and padded with NULs', async () => {
  const data = await fs.readFile(at('lib/libfoo.so.1'));
  const built = env.channel.packages.find((p) => p.dist.startsWith('libfoo'))!;
  expect(data.length).toBe(built.paths.find((p) => p._path === 'lib/libfoo.so.1')!.size_in_bytes);
  const shrink = LONG_PLACEHOLDER.length - prefix.length;
  const expected = Buffer.concat([
    Buffer.from('\x7fELF\x02\x01\x01fake'),
    Buffer.from(`${prefix}/share/foo`),
    Buffer.alloc(shrink),
    cString(''),
    Buffer.from(`rpath=${prefix}/lib:${prefix}/lib64`),
    Buffer.alloc(2 * shrink),
    cString(''),
    Buffer.from('tail\0'),
  ]);
  expect(data.equals(expected)).toBe(true);
});

test('a noarch python entry point runs and prints; its modules are byte-compiled', async () => {
  expect(await run(at('bin/greet'), [])).toBe('hello from greet\n');
  const head = (await fs.readFile(at('bin/greet'), 'utf8')).split('\n').slice(0, 2).join('\n');
  // "my env" has a space: conda's /bin/sh trampoline instead of a plain shebang.
  expect(head).toBe(`#!/bin/sh\n'''exec' "${prefix}/bin/python${env.python.short}" "$0" "$@" #'''`);
  const site = `lib/python${env.python.short}/site-packages/greet`;
  const tag = `cpython-${env.python.short.replace('.', '')}`;
  await fs.access(at(`${site}/__pycache__/cli.${tag}.pyc`));
  await fs.access(at(`${site}/__pycache__/__init__.${tag}.pyc`));
  expect((await fs.stat(at('bin/greet-helper'))).mode & 0o777).toBe(0o755); // python-scripts/ -> bin/
});

test('the post-link script ran with PREFIX, PKG_NAME, PKG_VERSION, PKG_BUILDNUM', async () => {
  expect(await fs.readFile(at('share/postie/post-link-ran.txt'), 'utf8')).toBe('postie 2.0 3\n');
});

test('soft links stay soft links; modes are kept; empty directories exist', async () => {
  expect(await fs.readlink(at('lib/libfoo.so'))).toBe('libfoo.so.1');
  expect(await fs.readlink(at('share/foo/link-to-data.txt'))).toBe('data.txt');
  expect(await fs.readlink(at('bin/python3'))).toBe('python');
  expect((await fs.stat(at('bin/foo-readonly'))).mode & 0o7777).toBe(0o555);
  expect((await fs.stat(at('bin/foo-config'))).mode & 0o7777).toBe(0o755);
  expect((await fs.stat(at('share/foo/data.txt'))).mode & 0o7777).toBe(0o644);
  expect((await fs.stat(at('share/emptydir/void'))).isDirectory()).toBe(true);
});

test('files are hard links into the cache; prefix-replaced and no_link files are copies', async () => {
  const inode = async (p: string) => (await fs.stat(p)).ino;
  const cached = path.join(cache, 'libfoo-1.2.3-h1234_0');
  expect(await inode(at('share/foo/data.txt'))).toBe(await inode(path.join(cached, 'share/foo/data.txt')));
  expect(await inode(at('share/foo/data-hardlink.txt'))).toBe(await inode(path.join(cached, 'share/foo/data.txt')));
  expect(await inode(at('etc/foo.conf'))).not.toBe(await inode(path.join(cached, 'etc/foo.conf')));
  expect(await inode(at('bin/foo-config'))).not.toBe(await inode(path.join(cached, 'bin/foo-config')));
  // The cache keeps its placeholder: replacement never wrote through a hard link.
  expect(await fs.readFile(path.join(cached, 'bin/foo-config'), 'utf8')).toContain(LONG_PLACEHOLDER);
});

test('the working directory is back where it was after an install (the links are made from the deepest directory prefix and cache share)', async () => {
  // beforeAll installed; the files are the cache's (the test above) and nothing else moved.
  expect(process.cwd()).toBe(cwdBefore);
  // A failure in the middle of a package's links (after 300 hard links, a placeholder longer than
  // the prefix allows) leaves it there too.
  const files: NonNullable<PackageSpec['files']> = Object.fromEntries(Array.from({ length: 300 }, (_, i) => [`share/many/f${i}.txt`, `${i}\n`]));
  files['zz/libold2.so'] = { content: cString('@PREFIX@/x'), prefix: 'binary' };
  const ch = await buildChannel(path.join(work, 'srv', 'cwd-fail'), [{ name: 'manyfiles', version: '1', placeholder: SHORT_PLACEHOLDER, files }]);
  const deep = path.join(work, 'envs', 'another-prefix-much-longer-than-thirty-two-bytes');
  await expect(install(deep, { pkgs: ch.packages.map((p) => lockedPackage(p, ch.url)) })).rejects.toThrow('longer than the placeholder');
  expect(process.cwd()).toBe(cwdBefore);
});

test('a package is announced as linked (what starts the byte-compiling python) from the working directory the process had', async () => {
  const units = await Promise.all(
    packages
      .filter((p) => !['greet', 'postie'].some((n) => p.dist.startsWith(n)))
      .map(async (p) => ({ dist: p.dist, dir: path.join(cache, p.dist), info: await readPackageInfo(path.join(cache, p.dist), p.dist) })),
  );
  const seen: string[] = [];
  const staging = path.join(work, 'envs', '.announce.staging');
  await linkPackages(units, { stagingDir: staging, prefix: path.join(work, 'envs', 'announce'), pythonVersion: '3.11', logger: new MemoryLogger(), onPackageLinked: () => seen.push(process.cwd()) });
  expect(seen.length).toBeGreaterThanOrEqual(units.length - 1); // not one whose no_link files are still to copy
  expect(new Set(seen)).toEqual(new Set([cwdBefore]));
  expect(process.cwd()).toBe(cwdBefore);
  expect((await fs.stat(path.join(staging, 'share/foo/data.txt'))).ino).toBe((await fs.stat(path.join(cache, 'libfoo-1.2.3-h1234_0', 'share/foo/data.txt'))).ino);
});

test('two packages writing one path: the later wins, with a warning naming both', async () => {
  expect(await fs.readFile(at('share/clobbered.txt'), 'utf8')).toBe('from b\n');
  expect(logger.lines('warning')).toEqual(['share/clobbered.txt is in both clobber-a-1-0 and clobber-b-1-0; clobber-b-1-0 (later in dependency order) wins']);
});

test('conda-meta records carry what conda list and micromamba list read', async () => {
  const names = (await fs.readdir(at('conda-meta'))).sort();
  expect(names).toEqual([...env.channel.packages.map((p) => `${p.record.name}-${p.record.version}-${p.record.build}.json`), 'history'].sort());
  const greet = JSON.parse(await fs.readFile(at('conda-meta/greet-0.4.0-py_0.json'), 'utf8'));
  const built = env.channel.packages.find((p) => p.dist === 'greet-0.4.0-py_0')!;
  expect(greet).toMatchObject({
    name: 'greet',
    version: '0.4.0',
    build: 'py_0',
    build_number: 0,
    channel: `${server.url}/fixture-channel`,
    url: `${server.url}/fixture-channel/noarch/${built.fn}`,
    fn: built.fn,
    md5: built.md5,
    sha256: built.sha256,
    size: built.size,
    depends: ['python'],
    constrains: [],
    subdir: 'noarch',
    noarch: 'python',
    requested_spec: 'greet',
    link: { source: path.join(cache, built.dist), type: 1 },
    extracted_package_dir: path.join(cache, built.dist),
  });
  expect(greet).not.toHaveProperty('package_tarball_full_path');
  const site = `lib/python${env.python.short}/site-packages/greet`;
  expect(greet.files).toEqual(expect.arrayContaining(['bin/greet', 'bin/greet-helper', `${site}/cli.py`, expect.stringMatching(/__pycache__\/cli\..*\.pyc$/)]));
  const byPath = new Map((greet.paths_data.paths as { _path: string }[]).map((p) => [p._path, p]));
  expect(byPath.get('bin/greet')).toMatchObject({ path_type: 'unix_python_entry_point' });
  expect(byPath.get(`${site}/cli.py`)).toMatchObject({ path_type: 'hardlink', sha256: expect.stringMatching(/^[0-9a-f]{64}$/), size_in_bytes: 55 });
  const libfoo = JSON.parse(await fs.readFile(at('conda-meta/libfoo-1.2.3-h1234_0.json'), 'utf8'));
  const replaced = (libfoo.paths_data.paths as Record<string, unknown>[]).find((p) => p._path === 'lib/libfoo.so.1');
  expect(replaced).toMatchObject({ file_mode: 'binary', prefix_placeholder: LONG_PLACEHOLDER, sha256_in_prefix: expect.stringMatching(/^[0-9a-f]{64}$/) });
  const history = await fs.readFile(at('conda-meta/history'), 'utf8');
  expect(history).toMatch(/^==> \d{4}-\d\d-\d\d \d\d:\d\d:\d\d <==\n/);
  expect(history).toContain(`+${server.url}/fixture-channel/noarch::greet-0.4.0-py_0\n`);
});

test('no credential is written anywhere in the prefix or the cache, nor logged', async () => {
  for (const root of [prefix, cache]) {
    for (const f of await fs.readdir(root, { recursive: true })) {
      const full = path.join(root, String(f));
      if (!(await fs.lstat(full)).isFile()) continue;
      const text = await fs.readFile(full, 'latin1');
      expect({ f, has: text.includes(CREDS.password) || text.includes(Buffer.from(`${CREDS.user}:${CREDS.password}`).toString('base64')) }).toEqual({ f, has: false });
    }
  }
  expect(logger.text()).not.toContain(CREDS.password);
});

test('a second install with a warm cache downloads nothing and asks the server nothing', async () => {
  server.clearRequests();
  const report = await install(path.join(work, 'envs', 'warm'));
  expect(report).toEqual({
    packages: packages.length,
    downloadedBytes: 0,
    cacheHits: packages.length,
    notices: ['share/clobbered.txt is in both clobber-a-1-0 and clobber-b-1-0; clobber-b-1-0 (later in dependency order) wins'],
    readableByAnyone: expect.any(Boolean),
    sizeBytes: expect.any(Number),
  });
  expect(report.sizeBytes).toBeGreaterThan(0);
  expect(server.requests).toHaveLength(0);
  expect(await run(path.join(work, 'envs', 'warm', 'bin', 'greet'), [])).toBe('hello from greet\n');
});

test('mirror: <mirror>/<last segment of the channel>/<subdir>/<fn> is fetched instead', async () => {
  await fs.cp(path.join(work, 'srv', 'fixture-channel'), path.join(work, 'srv', 'mirror', 'fixture-channel'), { recursive: true });
  const unreachable = env.channel.packages.map((p) => lockedPackage(p, 'https://conda.invalid/some/fixture-channel'));
  server.clearRequests();
  await install(path.join(work, 'envs', 'mirrored'), { pkgs: unreachable, mirror: `${server.url}/mirror/`, cacheDir: path.join(work, 'pkgs-mirror') });
  expect(server.requests.map((r) => r.path).sort()).toEqual(env.channel.packages.map((p) => `/mirror/fixture-channel/${p.subdir}/${p.fn}`).sort());
  const rec = JSON.parse(await fs.readFile(path.join(work, 'envs', 'mirrored', 'conda-meta', 'libfoo-1.2.3-h1234_0.json'), 'utf8'));
  expect(rec.channel).toBe('https://conda.invalid/some/fixture-channel');
});

test('a cache on another file system: files are copied (link type 3) and the prefix is the same', async () => {
  const shm = '/dev/shm';
  const other = await fs.stat(shm).catch(() => undefined);
  if (!other || other.dev === (await fs.stat(work)).dev) return; // no second file system here
  const cacheDir = await fs.mkdtemp(path.join(shm, 'gitenv-pkgs-'));
  try {
    const target = path.join(work, 'envs', 'xdev');
    await install(target, { cacheDir });
    expect((await fs.stat(path.join(target, 'share/foo/data.txt'))).nlink).toBe(1);
    expect(JSON.parse(await fs.readFile(path.join(target, 'conda-meta', 'libfoo-1.2.3-h1234_0.json'), 'utf8')).link.type).toBe(3);
    expect(await run(path.join(target, 'bin', 'greet'), [])).toBe('hello from greet\n');
  } finally {
    await fs.rm(cacheDir, { recursive: true, force: true });
  }
});

describe('failures name the package', () => {
  test('a failing post-link script, with its output', async () => {
    const ch = await buildChannel(path.join(work, 'srv', 'bad-post'), [{ name: 'badpost', version: '1', postLink: 'echo "cannot configure widgets" >&2\nexit 3\n' }]);
    const err = (await install(path.join(work, 'envs', 'badpost'), { pkgs: ch.packages.map((p) => lockedPackage(p, ch.url)) }).catch((e: unknown) => e)) as Error;
    expect(err).toBeInstanceOf(PackageError);
    expect(err.message).toContain('badpost: post-link script bin/.badpost-post-link.sh failed (exit code 3)');
    expect(err.message).toContain('cannot configure widgets');
  });

  test('a prefix longer than a binary placeholder', async () => {
    const ch = await buildChannel(path.join(work, 'srv', 'short-ph'), [
      { name: 'oldbin', version: '1', placeholder: SHORT_PLACEHOLDER, files: { 'lib/libold.so': { content: cString('@PREFIX@/x'), prefix: 'binary' } } },
    ]);
    const deep = path.join(work, 'envs', 'a-prefix-much-longer-than-thirty-two-bytes');
    const err = (await install(deep, { pkgs: ch.packages.map((p) => lockedPackage(p, ch.url)) }).catch((e: unknown) => e)) as Error;
    expect(err).toBeInstanceOf(PackageError);
    expect(err.message).toMatch(/^oldbin-1-0: cannot install lib\/libold.so: the prefix .* is longer than the placeholder/);
  });

  test('a corrupt download, refused before anything is extracted or linked', async () => {
    const libfoo = packages.find((p) => p.dist.startsWith('libfoo'))!;
    const cacheDir = path.join(work, 'pkgs-corrupt');
    server.setFault({ match: libfoo.fn, fault: { type: 'corrupt' } });
    try {
      const err = (await install(path.join(work, 'envs', 'corrupt'), { pkgs: [libfoo], cacheDir }).catch((e: unknown) => e)) as Error;
      expect(err).toBeInstanceOf(PackageError);
      expect(err.message).toContain(`${libfoo.dist}: sha256`);
    } finally {
      server.setFault(null);
    }
    expect(await fs.readdir(cacheDir)).toEqual([]); // no archive, no extracted directory, no partial file
    await expect(fs.access(path.join(work, 'envs', '.corrupt.staging'))).rejects.toThrow();
  });

  test('a noarch python package without python in the environment', async () => {
    const greet = packages.find((p) => p.dist.startsWith('greet'))!;
    await expect(install(path.join(work, 'envs', 'nopython'), { pkgs: [greet] })).rejects.toThrow('greet-0.4.0-py_0: is a noarch: python package, but the environment has no python');
  });
});

test('a lock line without a hash is refused before anything is fetched: nothing unverified is installed', async () => {
  const target = path.join(work, 'envs', 'unverified');
  const unhashed = packages.map((p, i) => (i === 1 ? { ...p, sha256: undefined, md5: undefined } : p));
  server.clearRequests();
  await expect(install(target, { pkgs: unhashed, cacheDir: path.join(work, 'pkgs-unverified') })).rejects.toThrow(
    new RegExp(`^${packages[1].dist}: no sha256 \\(nor md5\\) for .* gitenv installs nothing it cannot verify`),
  );
  expect(server.requests).toEqual([]);
  await expect(fs.access(target)).rejects.toThrow();
});
