/**
 * Installer benchmark: a ~50-package, ~200 MB fixture environment served over loopback HTTP, installed
 * cold (empty package cache) and warm (cache filled) by gitenv's builtin installer and by py-rattler in
 * the same run, twice: from archives of raw zstd blocks (200 MB to download, nothing to decompress)
 * and from archives compressed as conda-build's are (about 65 MB, zstd's work in every installer). Prints wall and CPU times, the gitenv/py-rattler ratios (goals: cold <= 1.1x, warm <= 1.0x) and the
 * peak memory of each installer process. Not part of the tests.
 *
 *   npx tsx bench/install.ts [--packages 50] [--mb 200] [--runs 1]
 *   BENCH_VERBOSE=1 npx tsx bench/install.ts      # plus gitenv's time per installer stage
 *   BENCH_CPU_PROF=/tmp/prof npx tsx bench/install.ts # each gitenv install under `node --cpu-prof`
 *   node bench/cpu-profile-summary.mjs /tmp/prof/<file>.cpuprofile   # where its time went
 *
 * Each gitenv install runs in a child process of its own (bench/install-child.ts, bundled by ncc at
 * the start as the actions are, so that its extraction threads load a bundle as on a runner), so its
 * peak RSS is its own and not the fixture builder's.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { LockedPackage } from '../src/conda/types.js';
import { fixturePackages, lockedPackage, pythonPackage, systemPython } from '../tests/conformance/fixture-env.js';
import { hasPyRattler, rattlerInstall } from '../tests/conformance/prefix-snapshot.js';
import { buildChannel, serveChannel, type PackageSpec } from '../tests/fixtures/channel/index.js';
import { bundleChild, runChild } from './bundle-child.js';

interface ChildRequest {
  packages: LockedPackage[];
  prefix: string;
  cache: string;
}

interface Measure {
  seconds: number;
  /** User + system CPU time of the install, every thread: less disturbed by a loaded machine than wall time. */
  cpuSeconds: number;
  maxRssKb: number;
}

const self = fileURLToPath(import.meta.url);

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
}

/**
 * ~`mb` MB over `count` packages, shaped like a conda-forge environment: most bytes in shared libraries
 * and data linked as they are, about a tenth in files carrying the prefix (a library with an RPATH, a
 * config script, a pkg-config file), many small files (headers, docs, modules) and a soft link per library.
 */
export function syntheticPackages(count: number, mb: number, zstdLevel?: number): PackageSpec[] {
  const perPackage = Math.floor((mb * 1e6) / count);
  const specs: PackageSpec[] = [];
  // Compressed archives hold bytes that compress about as a conda-forge environment's do (about 3x):
  // a tenth of each file random, the rest words; raw-block archives hold random bytes.
  const bytes = zstdLevel === undefined ? randomOnly : compressibleBytes;
  for (let i = 0; i < count; i++) {
    const files: NonNullable<PackageSpec['files']> = {};
    const withPrefix = Math.floor(perPackage * 0.1);
    const lib = Math.floor(perPackage * 0.6);
    const small = Math.floor((perPackage - withPrefix - lib) / 80);
    files[`lib/libbench${i}.so.1`] = { content: bytes(lib), mode: 0o755 };
    files[`lib/libbench${i}_rpath.so.1`] = { content: Buffer.concat([bytes(withPrefix), Buffer.from('\0@PREFIX@/lib\0')]), mode: 0o755, prefix: 'binary' };
    for (let f = 0; f < 60; f++) files[`share/bench${i}/data/file${f}.dat`] = bytes(small);
    for (let f = 0; f < 20; f++) files[`include/bench${i}/header${f}.h`] = `/* header ${f} of package ${i} */\n`.repeat(Math.max(1, Math.floor(small / 40)));
    files[`bin/bench${i}-config`] = { content: '#!/bin/sh\necho @PREFIX@\n', mode: 0o755, prefix: 'text' };
    files[`lib/pkgconfig/bench${i}.pc`] = { content: 'prefix=@PREFIX@\nlibdir=${prefix}/lib\n', prefix: 'text' };
    specs.push({ name: `bench${i}`, version: '1.0', build: `h${i}_0`, files, softlinks: { [`lib/libbench${i}.so`]: `libbench${i}.so.1` }, zstdLevel });
  }
  return specs;
}

const randomOnly = (n: number): Buffer => randomBytes(n);

/** `n` bytes, a tenth random and the rest words drawn from a few thousand (about 3x with zstd). */
function compressibleBytes(n: number): Buffer {
  const vocabulary = (compressibleBytes.words ??= Array.from({ length: 4096 }, () => randomBytes(6).toString('base64')));
  const random = Math.floor(n / 10);
  const text: string[] = [];
  for (let len = random; len < n; len += 9) text.push(vocabulary[(Math.random() * vocabulary.length) | 0]);
  return Buffer.concat([randomBytes(random), Buffer.from(text.join(' '))]).subarray(0, n);
}
compressibleBytes.words = undefined as string[] | undefined;

async function gitenvInstall(work: string, bundle: string, request: ChildRequest): Promise<Measure> {
  const { result, stderr } = await runChild<Measure>(bundle, request, work, path.basename(request.prefix), cpuProf(request.prefix));
  if (process.env.BENCH_VERBOSE) {
    const stages = stderr.split('\n').filter((l) => l.includes('installer stage'));
    process.stderr.write(stages.map((l) => `  ${path.basename(request.prefix)}: ${l}\n`).join(''));
  }
  return result;
}

/** `--cpu-prof` arguments when BENCH_CPU_PROF names a directory: one profile per install, named after it. */
function cpuProf(prefix: string): string[] {
  const dir = process.env.BENCH_CPU_PROF;
  return dir ? ['--cpu-prof', '--cpu-prof-dir', dir, '--cpu-prof-name', `${path.basename(prefix)}-${Date.now()}.cpuprofile`] : [];
}

/**
 * Where the installs run: the temporary directory (a disk) and, when there is one, a tmpfs. On a
 * disk, creating a file can cost from 40 µs to a millisecond depending on what the file system went
 * through before (ext4 skips the inodes of files deleted in the last minutes: a test run that just
 * removed thousands of files slows every installer after it); on tmpfs the figures are the
 * installers' own work. BENCH_INSTALL_DIRS (colon-separated) chooses.
 */
async function locations(): Promise<string[]> {
  if (process.env.BENCH_INSTALL_DIRS) return process.env.BENCH_INSTALL_DIRS.split(':').filter(Boolean);
  const dirs = [os.tmpdir()];
  if (
    await fs.access('/dev/shm', fs.constants.W_OK).then(
      () => true,
      () => false,
    )
  )
    dirs.push('/dev/shm');
  return dirs;
}

async function main(): Promise<void> {
  const build = await fs.mkdtemp(path.join(os.tmpdir(), 'gitenv-bench-child-'));
  // Every pass's files stay until the end: removing thousands of files slows the file creation of
  // whatever installs next on ext4 (see locations()).
  const works: string[] = [];
  try {
    const bundle = await bundleChild('install-child.ts', path.join(build, 'child'));
    const floor = await bundleChild('install-floor.ts', path.join(build, 'floor'));
    for (const base of await locations()) {
      for (const archives of ARCHIVES) {
        console.log(`\n--- installs under ${base}; ${archives.label}`);
        const work = await fs.mkdtemp(path.join(base, 'gitenv-bench-install-'));
        works.push(work);
        await benchIn(work, bundle, floor, archives.zstdLevel);
      }
    }
  } finally {
    for (const work of [build, ...works]) await fs.rm(work, { recursive: true, force: true });
  }
}

/**
 * The archives installed: members of raw zstd blocks around random bytes (the fixture builder's
 * default: nothing to decompress, every byte downloaded), and members really compressed around bytes
 * that compress about as a conda-forge environment's do (zstd's work in the installers, a third of
 * the bytes downloaded). conda-build compresses at level 19; building 200 MB at 19 takes a minute,
 * at 9 a few seconds, and decoding costs about the same.
 */
const ARCHIVES: { label: string; zstdLevel?: number }[] = [
  { label: 'archives of raw zstd blocks (random bytes)', zstdLevel: undefined },
  { label: 'archives compressed by zstd at level 9 (bytes that compress about 3x)', zstdLevel: 9 },
];

async function benchIn(work: string, bundle: string, floorBundle: string, zstdLevel: number | undefined): Promise<void> {
  const count = arg('packages', 50);
  const mb = arg('mb', 200);
  const runs = arg('runs', 1);
  const py = systemPython();
  if (!py) throw new Error('python3 is needed (the fixture python package wraps it)');
  const rattler = await hasPyRattler();
  if (!rattler) console.warn('!!! py-rattler is not installed (bash .ci/setup-extra): measuring gitenv alone');

  const specs = [pythonPackage(py), ...fixturePackages(py).filter((s) => s.name !== 'python'), ...syntheticPackages(count - 4, mb, zstdLevel)];
  const t = Date.now();
  const channel = await buildChannel(path.join(work, 'srv', 'bench-channel'), specs);
  const totalMb = channel.packages.reduce((n, p) => n + p.size, 0) / 1e6;
  const files = channel.packages.reduce((n, p) => n + p.paths.length, 0);
  console.log(
    `fixture: ${channel.packages.length} packages, ${files} files, ${totalMb.toFixed(0)} MB of archives (${mb} MB in the packages) ` +
      `(~10% of the bytes carry the prefix; built in ${((Date.now() - t) / 1000).toFixed(1)} s)`,
  );
  const server = await serveChannel(path.join(work, 'srv'), { lifetimeMs: 3_600_000 });
  try {
    const url = `${server.url}/bench-channel`;
    const packages = channel.packages.map((p) => lockedPackage(p, url));
    const forRattler = packages.map((p) => ({ ...p, dir: channel.dir }));
    // The server hashes each file for its ETag the first time it serves it: pay that (and the
    // page cache's first read) before measuring, or the first installer measured pays it alone.
    for (const p of packages) await (await fetch(p.url)).arrayBuffer();
    const rows: { name: string; cold: Measure; warm?: Measure }[] = [];
    // Each round's caches and prefixes stay until the end: removing thousands of files just before
    // an installer runs slows its file creation on ext4 (see locations()), and the rounds alternate
    // which installer goes first, so that neither always follows the other's writes.
    for (let r = 0; r < runs; r++) {
      const gitenvRound = async () => {
        const gCache = path.join(work, `g-cache-${r}`);
        const cold = await gitenvInstall(work, bundle, { packages, prefix: path.join(work, `g-cold-${r}`), cache: gCache });
        const warm = await gitenvInstall(work, bundle, { packages, prefix: path.join(work, `g-warm-${r}`), cache: gCache });
        rows.push({ name: 'gitenv', cold, warm });
      };
      const rattlerRound = async () => {
        if (!rattler) return;
        const rCache = path.join(work, `r-cache-${r}`);
        const cold = await rattlerInstall(forRattler, path.join(work, `r-cold-${r}`), rCache, work);
        const warm = await rattlerInstall(forRattler, path.join(work, `r-warm-${r}`), rCache, work, false);
        rows.push({ name: 'py-rattler', cold, warm });
      };
      // The runtime's floor (install-floor.ts): the same bytes through Node with nothing but the work
      // no installer can skip. Cold only.
      const floorRound = async () => {
        const fCache = path.join(work, `f-cache-${r}`);
        const { result: cold } = await runChild<Measure>(floorBundle, { packages, prefix: path.join(work, `f-cold-${r}`), cache: fCache }, work, `floor-${r}`);
        const { result: warm } = await runChild<Measure>(floorBundle, { packages, prefix: path.join(work, `f-warm-${r}`), cache: fCache, warm: true }, work, `floor-warm-${r}`);
        rows.push({ name: 'node floor', cold, warm });
      };
      for (const round of r % 2 === 0 ? [gitenvRound, rattlerRound, floorRound] : [floorRound, rattlerRound, gitenvRound]) await round();
    }
    report(rows, totalMb);
  } finally {
    await server.close();
  }
}

function report(rows: { name: string; cold: Measure; warm?: Measure }[], totalMb: number): void {
  const best = (name: string, key: 'cold' | 'warm', of: 'seconds' | 'cpuSeconds' = 'seconds') => Math.min(...rows.filter((r) => r.name === name && r[key]).map((r) => (r[key] as Measure)[of]));
  const peak = (name: string) => Math.max(...rows.filter((r) => r.name === name).flatMap((r) => [r.cold.maxRssKb, r.warm?.maxRssKb ?? 0]));
  console.log('\ninstaller    cold (s)   warm (s)   cold CPU (s)   warm CPU (s)   peak RSS (MB)');
  for (const name of ['gitenv', 'py-rattler', 'node floor']) {
    if (!rows.some((r) => r.name === name)) continue;
    const cells = [best(name, 'cold'), best(name, 'warm'), best(name, 'cold', 'cpuSeconds'), best(name, 'warm', 'cpuSeconds')];
    console.log(`${name.padEnd(12)} ${cells.map((c, i) => (Number.isFinite(c) ? c.toFixed(2) : '-').padStart(i < 2 ? 8 : 12)).join('   ')}   ${(peak(name) / 1024).toFixed(0).padStart(13)}`);
  }
  console.log(`gitenv cold throughput: ${(totalMb / best('gitenv', 'cold')).toFixed(0)} MB/s of archives`);
  if (rows.some((r) => r.name === 'py-rattler')) {
    const ratio = (key: 'cold' | 'warm', of: 'seconds' | 'cpuSeconds' = 'seconds') => (best('gitenv', key, of) / best('py-rattler', key, of)).toFixed(2);
    console.log(`ratio gitenv / py-rattler, wall: cold ${ratio('cold')}x (goal <= 1.1), warm ${ratio('warm')}x (goal <= 1.0)`);
    console.log(`ratio gitenv / py-rattler, CPU:  cold ${ratio('cold', 'cpuSeconds')}x, warm ${ratio('warm', 'cpuSeconds')}x`);
    console.log(`peak memory gitenv / py-rattler: ${(peak('gitenv') / peak('py-rattler')).toFixed(2)}x (goal <= 1)`);
    const floorRatio = (key: 'cold' | 'warm', of: 'seconds' | 'cpuSeconds') => (best('node floor', key, of) / best('py-rattler', key, of)).toFixed(2);
    console.log(`the runtime's floor (install-floor.ts: no checks, no streaming) / py-rattler, cold: wall ${floorRatio('cold', 'seconds')}x, CPU ${floorRatio('cold', 'cpuSeconds')}x`);
    console.log(
      `the runtime's floor (one thread: links and rewrites, nothing hashed, no conda-meta) / py-rattler, warm: wall ${floorRatio('warm', 'seconds')}x, CPU ${floorRatio('warm', 'cpuSeconds')}x`,
    );
  }
  const over = (key: 'cold' | 'warm', of: 'seconds' | 'cpuSeconds') => (best('gitenv', key, of) / best('node floor', key, of)).toFixed(2);
  console.log(`gitenv / the runtime's floor, cold: wall ${over('cold', 'seconds')}x, CPU ${over('cold', 'cpuSeconds')}x; warm: wall ${over('warm', 'seconds')}x, CPU ${over('warm', 'cpuSeconds')}x`);
  console.log(
    `load average at the end: ${os
      .loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')}`,
  );
}

// Run as a script (not when imported for its fixture shape).
if (process.argv[1] && path.resolve(process.argv[1]) === self) {
  await main();
}
