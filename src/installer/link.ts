import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { AnchoredPaths } from '../util/anchored-paths.js';
import { PackageError, errorMessage } from '../util/errors.js';
import { sha256Hex } from '../util/files.js';
import type { Logger } from '../util/logger.js';
import { mapLimit } from './concurrency.js';
import { entryPointScript, noarchTarget, parseEntryPoint } from './noarch-python.js';
import type { PackageInfo, PackagePath } from './package-info.js';
import { ConfinedDir } from './confined.js';
import { isPlainRel, joinInside, safeMode } from './path-safety.js';
import { PrefixTooLongError, replacePrefix } from './prefix-replace.js';

/** A package ready to link: its extracted directory in the cache and what it says about itself. */
export interface LinkUnit {
  dist: string;
  dir: string;
  info: PackageInfo;
}

/** One path of a package in the prefix, as conda-meta's paths_data records it. */
export interface LinkedPath {
  _path: string;
  path_type: 'hardlink' | 'softlink' | 'directory' | 'unix_python_entry_point' | 'pyc_file';
  sha256?: string;
  size_in_bytes?: number;
  prefix_placeholder?: string;
  file_mode?: 'text' | 'binary';
  sha256_in_prefix?: string;
  no_link?: boolean;
}

export interface LinkedPackage {
  unit: LinkUnit;
  paths: LinkedPath[];
  /** conda's link types: 1 hard link, 3 copy (when the cache is on another file system). */
  linkType: 1 | 3;
}

/** A path a package puts into the prefix, before it is written. */
interface Planned {
  target: string;
  /**
   * The directory of `target` (`.` at the top), worked out once: every pass over the plans looks it
   * up in a set, and one string kept keeps its hash (a fresh slice is hashed again at each lookup).
   */
  parent: string;
  source?: PackagePath;
  /** An entry point's script (noarch python). */
  script?: string;
}

export interface LinkOptions {
  /** Where the files are written. */
  stagingDir: string;
  /** The prefix's final path: what placeholders become. */
  prefix: string;
  /** `3.12` when the environment has python (noarch python packages need it). */
  pythonVersion?: string;
  /**
   * Where noarch python packages' `site-packages/` goes: the python package's CEP-17
   * `python_site_packages_path` (`lib/python3.13t/site-packages`), else `lib/python<X.Y>/site-packages`.
   */
  sitePackages?: string;
  logger: Logger;
  /** Told each clobbered path, as the warning the log gets (the job summary lists them too). */
  onClobber?: (message: string) => void;
  /** Told each package whose every path is in place, as soon as it is (before the later packages are linked). */
  onPackageLinked?: (index: number) => void;
  concurrency?: number;
}

/** What the linking of one install shares. */
interface LinkContext extends LinkOptions {
  /** The process's umask when the install started. */
  umask: number;
  /** Where files to rewrite are read (see readForRewrite); grows as needed, up to SCRATCH_MAX. */
  scratch: { buf: Buffer };
}

/**
 * Files to rewrite up to this size are read into one buffer the install reuses: fresh memory for each
 * (20 MB of libraries in the benchmark's environment) cost page faults and garbage collection, about a
 * tenth of the link stage. Larger files get a buffer of their own, let go once written.
 */
const SCRATCH_MAX = 16 << 20;

/**
 * Links every package's files into the staging directory. When two packages write one path, the
 * later in dependency order wins (with a warning naming both), as conda's `path_conflict: warn` does.
 */
export async function linkPackages(units: LinkUnit[], options: LinkOptions): Promise<LinkedPackage[]> {
  const plans = units.map((u) => withoutCondaMeta(u, planPackage(u, options), options.logger));
  const owners = resolveClobbers(units, plans, options);
  // Every write below goes through `dir`: see confined.ts for the rule.
  const dir = new ConfinedDir(options.stagingDir);
  try {
    // The umask, read once (reading it sets it twice): writeFresh sets a mode again only when it took some of it.
    return await linkInto(dir, units, plans, owners, { ...options, umask: process.umask(), scratch: { buf: Buffer.alloc(0) } });
  } finally {
    dir.close();
  }
}

async function linkInto(dir: ConfinedDir, units: LinkUnit[], plans: Planned[][], owners: Map<string, number>, options: LinkContext): Promise<LinkedPackage[]> {
  // A paths.json directory entry is made unless a file took its place.
  const owned = (i: number, planned: Planned): boolean => (planned.source?.pathType === 'directory' ? !owners.has(planned.target) : owners.get(planned.target) === i);
  makeDirectories(dir, plans, owned);
  const state = { crossDevice: false };
  const linked: (LinkResult | undefined)[][] = plans.map((plan) => new Array<LinkResult | undefined>(plan.length));
  // Every path is made synchronously, in order: a hard link or a soft link is one system call of
  // microseconds, where a promise and a thread pool round trip per path cost several times more; and
  // a file whose content is rewritten (a placeholder, an entry point) is read, rewritten, written and
  // hashed here too. Rewrites in the thread pool, side by side with the links, took longer: each
  // needs the main thread between its steps, and a rewrite is mostly CPU (hashing) that two cores
  // share anyway (warm install, 141 rewrites of 20 MB among 3,927 paths: the stage 74–75 ms against
  // 85–92). The synchronous work yields now and then, so timers and signals keep their turn.
  // Files that must be copied (no_link, a cache on another file system) are data, not one call each:
  // those go to the thread pool after all.
  const copies: { i: number; k: number }[] = [];
  let sinceYield = 0;
  // The hard links of the common case below are made with paths from the deepest directory the
  // staging prefix and the cache share (anchored-paths.ts): the kernel walks fewer components.
  const anchored = AnchoredPaths.around([dir.root, ...units.map((u) => u.dir)]);
  const rootShort = anchored?.short(dir.root);
  try {
    for (let i = 0; i < units.length; i++) {
      // The common case, a new hard link of a file into a directory already made, in as few steps as
      // it takes (thousands of them are most of a warm install); anything else, or any failure, takes
      // the general path below, which says why.
      const base = joinInside(units[i].dir, '.') + path.sep; // the package's directory, resolved once
      const baseShort = anchored ? anchored.short(base) + path.sep : base;
      const copiesBefore = copies.length;
      for (let k = 0; k < plans[i].length; k++) {
        if (++sinceYield >= 256) {
          sinceYield = 0;
          anchored?.leave();
          await new Promise((resolve) => setImmediate(resolve));
        }
        const planned = plans[i][k];
        if (isCostly(planned)) {
          linked[i][k] = guarded(units[i], planned, () => linkCostly(dir, units[i], planned, owned(i, planned), options));
          continue;
        }
        const p = planned.source;
        if (p?.pathType === 'hardlink' && !p.noLink && !state.crossDevice && isPlainRel(p.path) && owners.get(planned.target) === i) {
          const made = anchored?.enter() ? dir.tryLinkNew(planned.target, baseShort + p.path, rootShort, planned.parent) : dir.tryLinkNew(planned.target, base + p.path, undefined, planned.parent);
          if (made) {
            linked[i][k] = { path: basePath(planned.target, p), copied: false };
            continue;
          }
        }
        const result = guarded(units[i], planned, () => linkCheap(dir, units[i], planned, owned(i, planned), state));
        if (result) linked[i][k] = result;
        else copies.push({ i, k });
      }
      // Complete unless some of its files wait to be copied.
      anchored?.leave();
      if (copies.length === copiesBefore) options.onPackageLinked?.(i);
    }
  } finally {
    anchored?.leave();
  }
  await mapLimit(copies, options.concurrency ?? 8, async ({ i, k }) => {
    const planned = plans[i][k];
    const source = joinInside(units[i].dir, (planned.source as PackagePath).path);
    // copyFile keeps the source's permission bits.
    await guardedAsync(units[i], planned, () => dir.writeNew(planned.target, (tmp) => fsp.copyFile(source, tmp, fs.constants.COPYFILE_EXCL)));
    linked[i][k] = { path: basePath(planned.target, planned.source as PackagePath), copied: true };
  });
  await checkSoftLinks(dir, units, plans, owners);
  return units.map((unit, i) => {
    const done = linked[i] as LinkResult[];
    const copied = done.some((l) => l.copied);
    return { unit, paths: done.map((l) => l.path), linkType: copied && state.crossDevice ? 3 : 1 };
  });
}

/**
 * What a package ships under `conda-meta/` is not linked (with a warning): that directory is the
 * installer's, and a file there hard linked from the cache would have gitenv's records written into
 * the cache and every prefix sharing it.
 */
function withoutCondaMeta(unit: LinkUnit, plan: Planned[], logger: Logger): Planned[] {
  if (!plan.some((p) => p.target === 'conda-meta' || p.target.startsWith('conda-meta/'))) return plan;
  const kept = plan.filter((p) => p.target !== 'conda-meta' && !p.target.startsWith('conda-meta/'));
  if (kept.length !== plan.length) {
    const dropped = plan.filter((p) => !kept.includes(p)).map((p) => p.target);
    logger.warning(`${unit.dist} ships ${dropped.slice(0, 3).join(', ')}${dropped.length > 3 ? ', ...' : ''} under conda-meta/: not installed (conda-meta belongs to the installer)`);
  }
  return kept;
}

/**
 * Every soft link made must resolve inside the prefix once all links are there: links of several
 * packages may form a chain leading out (`s -> ../..` in one, `a -> ../s/../x` in another) although
 * each stays inside on its own. Nothing was written through such a chain (confined.ts checks every
 * parent as it is written into); here the prefix is refused rather than left with a door out.
 */
async function checkSoftLinks(dir: ConfinedDir, units: LinkUnit[], plans: Planned[][], owners: Map<string, number>): Promise<void> {
  for (let i = 0; i < plans.length; i++) {
    for (const planned of plans[i]) {
      if (planned.source?.pathType !== 'softlink' || owners.get(planned.target) !== i) continue;
      if (!(await dir.linkInside(planned.target))) {
        throw new PackageError(units[i].dist, `refused: its soft link ${planned.target} leads out of the prefix through links of other packages; the prefix is not deployed`);
      }
    }
  }
}

/** True for a path whose content is read and rewritten rather than linked. */
function isCostly(planned: Planned): boolean {
  return planned.script !== undefined || Boolean(planned.source?.prefixPlaceholder);
}

type LinkResult = { path: LinkedPath; copied: boolean };

/** Errors of one path as the package's error, naming the path. */
function guarded<T>(unit: LinkUnit, planned: Planned, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    throw asPackageError(unit, planned, err);
  }
}

async function guardedAsync<T>(unit: LinkUnit, planned: Planned, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw asPackageError(unit, planned, err);
  }
}

function asPackageError(unit: LinkUnit, planned: Planned, err: unknown): PackageError {
  if (err instanceof PackageError) return err;
  return new PackageError(unit.dist, `cannot link ${planned.target}: ${errorMessage(err)}`, { cause: err });
}

/** The paths a package puts into the prefix: noarch python remapped, entry points added. */
export function planPackage(unit: LinkUnit, options: Pick<LinkOptions, 'prefix' | 'pythonVersion' | 'sitePackages'>): Planned[] {
  const { info } = unit;
  if (!info.noarchPython) return info.paths.map((p) => ({ target: p.path, parent: parentOf(p.path), source: p }));
  if (!options.pythonVersion) {
    throw new PackageError(unit.dist, 'is a noarch: python package, but the environment has no python');
  }
  const py = options.pythonVersion;
  const planned: Planned[] = info.paths.map((p) => {
    const target = noarchTarget(p.path, py, options.sitePackages);
    return { target, parent: parentOf(target), source: p };
  });
  for (const spec of info.entryPoints) {
    const ep = parseEntryPoint(spec, unit.dist);
    planned.push({ target: `bin/${ep.name}`, parent: 'bin', script: entryPointScript(ep, options.prefix, py) });
  }
  return planned;
}

/**
 * Every directory the packages need, made up front (shortest first, each checked as confined.ts
 * says): otherwise the first files of a directory all fail to link at once and all make it.
 */
function makeDirectories(dir: ConfinedDir, plans: Planned[][], owned: (i: number, planned: Planned) => boolean): void {
  const dirs = new Set<string>();
  // A path some package makes a soft link (lib64 -> lib) is left to that link, not made a directory.
  const links = new Set<string>();
  for (let i = 0; i < plans.length; i++) {
    for (const p of plans[i]) {
      if (!owned(i, p)) continue;
      const type = p.source?.pathType;
      if (type === 'softlink') links.add(p.target);
      const parent = type === 'directory' ? p.target : p.parent;
      for (let d = parent; d !== '.' && d !== '' && !dirs.has(d); d = parentOf(d)) dirs.add(d);
    }
  }
  const underLink = (d: string): boolean => {
    for (let a = d; a !== '.' && a !== ''; a = parentOf(a)) if (links.has(a)) return true;
    return false;
  };
  const wanted = links.size > 0 ? [...dirs].filter((d) => !underLink(d)) : [...dirs];
  for (const d of wanted.sort((a, b) => depth(a) - depth(b))) dir.ensureDir(d);
}

/** The directory of a plan's target (a normalized relative path): `.` at the top. */
function parentOf(target: string): string {
  const slash = target.lastIndexOf('/');
  return slash < 0 ? '.' : target.slice(0, slash);
}

function depth(p: string): number {
  let n = 0;
  for (let i = p.indexOf('/'); i >= 0; i = p.indexOf('/', i + 1)) n++;
  return n;
}

/**
 * Which package owns each path: the last one in dependency order, as conda's `path_conflict: clobber`
 * leaves it. That holds between a file and a file, and between a file and a directory: a later
 * package's file where an earlier one has a directory takes its place (the earlier package's paths
 * under it are not written), and a later package's directory where an earlier one has a file (or a
 * soft link to a file) replaces that file. A directory reached through an earlier package's soft link
 * (`lib64 -> lib`) is not a conflict. Every clobbered path is a warning naming both packages.
 * Directory entries of paths.json own nothing.
 */
function resolveClobbers(units: LinkUnit[], plans: Planned[][], options: Pick<LinkOptions, 'logger' | 'onClobber'>): Map<string, number> {
  const apart = ownersApart(plans);
  if (apart) return apart;
  const owners = new Map<string, number>();
  // How many owned paths each directory holds: a later file at a directory's path is rare, and only
  // then are the paths below looked for.
  const holds = new Map<string, number>();
  // The directories above a path, nearest first; worked out once per directory (thousands of paths
  // share a few hundred).
  const above = new Map<string, readonly string[]>();
  const ancestors = (target: string): readonly string[] => {
    const parent = path.posix.dirname(target);
    let list = above.get(parent);
    if (list === undefined) {
      const dirs: string[] = [];
      for (let d = parent; d !== '.' && d !== '' && d !== '/'; d = path.posix.dirname(d)) dirs.push(d);
      list = dirs;
      above.set(parent, list);
    }
    return list;
  };
  const own = (target: string, i: number, delta: 1 | -1, dirs: readonly string[] = ancestors(target)): void => {
    if (delta > 0) owners.set(target, i);
    else owners.delete(target);
    for (const d of dirs) holds.set(d, (holds.get(d) ?? 0) + delta);
  };
  plans.forEach((plan, i) => {
    const report = (what: string): void => {
      const message = `${what}; ${units[i].dist} (later in dependency order) wins`;
      options.logger.warning(message);
      options.onClobber?.(message);
    };
    for (const p of plan) {
      if (p.source?.pathType === 'directory') continue;
      const before = owners.get(p.target);
      if (before !== undefined && before !== i) report(`${p.target} is in both ${units[before].dist} and ${units[i].dist}`);
      if (before !== undefined) own(p.target, before, -1);
      // An earlier package's directory here: its paths below give way to this file.
      if ((holds.get(p.target) ?? 0) > 0) {
        for (const [below, loser] of [...owners].filter(([t]) => t.startsWith(`${p.target}/`)).sort(([a], [b]) => (a < b ? -1 : 1))) {
          if (loser !== i) report(`${below} of ${units[loser].dist} is under ${p.target}, a file in ${units[i].dist}`);
          own(below, loser, -1);
        }
      }
      // An earlier package's file where this path needs a directory gives way (a soft link is written through).
      const dirs = ancestors(p.target);
      for (const d of dirs) {
        const loser = owners.get(d);
        if (loser === undefined || isSoftlinkOf(plans[loser], d)) continue;
        if (loser !== i) report(`${d} is a file in ${units[loser].dist} and a directory in ${units[i].dist}`);
        own(d, loser, -1);
      }
      own(p.target, i, 1, dirs);
    }
  });
  return owners;
}

/**
 * Which package owns each path when no two paths meet (most environments): one look at each path.
 * Undefined when some do (a path in two packages, or in one package twice; a file or a soft link
 * where some path needs a directory), which resolveClobbers then works out path by path.
 */
function ownersApart(plans: Planned[][]): Map<string, number> | undefined {
  const owners = new Map<string, number>();
  const dirs = new Set<string>();
  const parents = new Set<string>();
  for (let i = 0; i < plans.length; i++) {
    for (const p of plans[i]) {
      if (p.source?.pathType === 'directory') continue;
      if (owners.has(p.target)) return undefined;
      owners.set(p.target, i);
      const parent = p.parent;
      if (parents.has(parent)) continue;
      parents.add(parent);
      for (let d = parent; d !== '.' && d !== ''; d = parentOf(d)) dirs.add(d);
    }
  }
  for (const d of dirs) if (owners.has(d)) return undefined;
  return owners;
}

function isSoftlinkOf(plan: Planned[], target: string): boolean {
  return plan.some((p) => p.target === target && p.source?.pathType === 'softlink');
}

/**
 * A path that takes one system call (a directory, a soft link, a hard link), done synchronously;
 * undefined when the file must be copied instead. Not for a path whose content is rewritten (see linkCostly).
 */
function linkCheap(dir: ConfinedDir, unit: LinkUnit, planned: Planned, owned: boolean, state: { crossDevice: boolean }): LinkResult | undefined {
  const p = planned.source as PackagePath;
  const base = basePath(planned.target, p);
  if (p.pathType === 'directory') {
    if (owned) dir.ensureDir(planned.target);
    return { path: base, copied: false };
  }
  const source = joinInside(unit.dir, p.path);
  if (p.pathType === 'softlink') {
    if (owned) {
      const target = fs.readlinkSync(source);
      dir.createSync(planned.target, (dest) => fs.symlinkSync(target, dest));
    }
    return { path: base, copied: false };
  }
  if (owned && !hardlinked(dir, source, planned.target, Boolean(p.noLink), state)) return undefined;
  return { path: base, copied: false };
}

function basePath(target: string, p: PackagePath): LinkedPath {
  const base: LinkedPath = { _path: target, path_type: p.pathType, sha256: p.sha256, size_in_bytes: p.size };
  if (p.noLink) base.no_link = true;
  return base;
}

/** An entry point's script, or a file with its placeholder replaced: read, rewritten, hashed. */
function linkCostly(dir: ConfinedDir, unit: LinkUnit, planned: Planned, owned: boolean, options: LinkContext): LinkResult {
  if (planned.script !== undefined) {
    if (owned) writeFresh(dir, planned.target, planned.script, 0o755, options.umask);
    const data = Buffer.from(planned.script);
    return { path: { _path: planned.target, path_type: 'unix_python_entry_point', sha256: sha256Hex(data), size_in_bytes: data.length }, copied: false };
  }
  const p = planned.source as PackagePath;
  const source = joinInside(unit.dir, p.path);
  const written = owned ? writeReplaced(dir, unit, source, planned.target, p, options) : undefined;
  // Like rattler, size_in_bytes is the size of the file in the prefix (after replacement).
  return {
    path: { ...basePath(planned.target, p), prefix_placeholder: p.prefixPlaceholder, file_mode: p.fileMode, ...written },
    copied: false,
  };
}

/** A file with its placeholder replaced by the final prefix, same mode as in the package. */
function writeReplaced(dir: ConfinedDir, unit: LinkUnit, source: string, dest: string, p: PackagePath, { prefix, umask, scratch }: LinkContext): { sha256_in_prefix: string; size_in_bytes: number } {
  const fd = fs.openSync(source, 'r');
  let data: Buffer;
  let mode: number;
  try {
    const st = fs.fstatSync(fd);
    mode = st.mode;
    data = readForRewrite(fd, st.size, scratch);
  } finally {
    fs.closeSync(fd);
  }
  // `data` may be the install's scratch buffer: everything below is done with it before the next read.
  let out: Buffer;
  try {
    out = replacePrefix(data, p.prefixPlaceholder as string, prefix, p.fileMode ?? 'text', true);
  } catch (err) {
    if (err instanceof PrefixTooLongError) throw new PackageError(unit.dist, `cannot install ${p.path}: ${err.message}`);
    throw err;
  }
  writeFresh(dir, dest, out, safeMode(mode & 0o7777) as number, umask);
  return { sha256_in_prefix: sha256Hex(out), size_in_bytes: out.length };
}

/** The whole of an open file: in `scratch` when it fits under SCRATCH_MAX, else in a buffer of its own. */
function readForRewrite(fd: number, size: number, scratch: { buf: Buffer }): Buffer {
  if (size >= SCRATCH_MAX) return fs.readFileSync(fd);
  // One byte more than the file: the read that returns nothing says its end came where fstat said.
  if (scratch.buf.length < size + 1) scratch.buf = Buffer.allocUnsafe(Math.min(SCRATCH_MAX, Math.max(size + 1, 2 * scratch.buf.length, 1 << 20)));
  let n = 0;
  for (;;) {
    // The file grew since fstat (the cache is not written while linking, but nothing is assumed).
    if (n === scratch.buf.length) return Buffer.concat([scratch.buf, fs.readFileSync(fd)]);
    const read = fs.readSync(fd, scratch.buf, n, scratch.buf.length - n, null);
    if (read === 0) return scratch.buf.subarray(0, n);
    n += read;
  }
}

/** Hard links `source` at `dest`; false when it must be copied instead (no_link, another file system). */
function hardlinked(dir: ConfinedDir, source: string, dest: string, noLink: boolean, state: { crossDevice: boolean }): boolean {
  if (noLink || state.crossDevice) return false;
  try {
    dir.createSync(dest, (abs) => fs.linkSync(source, abs));
    return true;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'EXDEV' && code !== 'EPERM' && code !== 'EMLINK' && code !== 'ENOTSUP') throw err;
    if (code === 'EXDEV') state.crossDevice = true;
    return false;
  }
}

/** A new file at `dest` (relative to the prefix) holding `data`, with exactly `mode`. */
function writeFresh(dir: ConfinedDir, dest: string, data: string | Buffer, mode: number, umask: number): void {
  dir.writeNewSync(dest, (tmp) => {
    fs.writeFileSync(tmp, data, { mode, flag: 'wx' });
    // writeFileSync's mode is filtered by the umask: set again only when the umask took some of it.
    if ((mode & umask) !== 0) fs.chmodSync(tmp, mode);
  });
}
