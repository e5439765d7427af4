import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { PackageError, errorMessage } from '../util/errors.js';
import { sha256Hex } from '../util/files.js';
import type { Logger } from '../util/logger.js';
import { mapLimit } from './concurrency.js';
import { entryPointScript, noarchTarget, parseEntryPoint } from './noarch-python.js';
import type { PackageInfo, PackagePath } from './package-info.js';
import { joinInside } from './path-safety.js';
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
  logger: Logger;
  concurrency?: number;
}

/**
 * Links every package's files into the staging directory. When two packages write one path, the
 * later in dependency order wins (with a warning naming both), as conda's `path_conflict: warn` does.
 */
export async function linkPackages(units: LinkUnit[], options: LinkOptions): Promise<LinkedPackage[]> {
  const plans = units.map((u) => planPackage(u, options));
  const owners = resolveClobbers(units, plans, options.logger);
  await makeDirectories(options.stagingDir, plans);
  const state = { crossDevice: false };
  const linked: (LinkResult | undefined)[][] = plans.map((plan) => new Array<LinkResult | undefined>(plan.length));
  const owned = (i: number, planned: Planned): boolean => owners.get(planned.target) === i;
  // Files whose content is rewritten (placeholders, entry points) go to the thread pool first, several
  // at once; meanwhile the paths that cost one system call (hard links, soft links) are made
  // synchronously: microseconds each, where a promise and a thread pool round trip per path cost
  // several times more. The synchronous work yields now and then so the rewrites move on.
  const costly = plans.flatMap((plan, i) => plan.flatMap((planned, k) => (isCostly(planned) ? [{ i, k }] : [])));
  const rewriting = mapLimit(costly, options.concurrency ?? 8, async ({ i, k }) => {
    const planned = plans[i][k];
    linked[i][k] = await guardedAsync(units[i], planned, () => linkCostly(units[i], planned, owned(i, planned), options));
  });
  rewriting.catch(() => undefined); // awaited below; a failure must not go unhandled meanwhile
  // Files that must be copied (no_link, a cache on another file system) are data, not one call each:
  // those go to the thread pool after all.
  const copies: { i: number; k: number }[] = [];
  let sinceYield = 0;
  for (let i = 0; i < units.length; i++) {
    for (let k = 0; k < plans[i].length; k++) {
      const planned = plans[i][k];
      if (isCostly(planned)) continue;
      const result = guarded(units[i], planned, () => linkCheap(units[i], planned, owned(i, planned), options, state));
      if (result) linked[i][k] = result;
      else copies.push({ i, k });
      if (++sinceYield >= 256) {
        sinceYield = 0;
        await new Promise((resolve) => setImmediate(resolve));
      }
    }
  }
  await rewriting;
  await mapLimit(copies, options.concurrency ?? 8, async ({ i, k }) => {
    const planned = plans[i][k];
    const source = joinInside(units[i].dir, (planned.source as PackagePath).path);
    const dest = joinInside(options.stagingDir, planned.target);
    // copyFile keeps the source's permission bits.
    await guardedAsync(units[i], planned, () => create(dest, () => fsp.copyFile(source, dest, fs.constants.COPYFILE_EXCL)));
    linked[i][k] = { path: basePath(planned.target, planned.source as PackagePath), copied: true };
  });
  return units.map((unit, i) => {
    const done = linked[i] as LinkResult[];
    const copied = done.some((l) => l.copied);
    return { unit, paths: done.map((l) => l.path), linkType: copied && state.crossDevice ? 3 : 1 };
  });
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
export function planPackage(unit: LinkUnit, options: Pick<LinkOptions, 'prefix' | 'pythonVersion'>): Planned[] {
  const { info } = unit;
  if (!info.noarchPython) return info.paths.map((p) => ({ target: p.path, source: p }));
  if (!options.pythonVersion) {
    throw new PackageError(unit.dist, 'is a noarch: python package, but the environment has no python');
  }
  const py = options.pythonVersion;
  const planned: Planned[] = info.paths.map((p) => ({ target: noarchTarget(p.path, py), source: p }));
  for (const spec of info.entryPoints) {
    const ep = parseEntryPoint(spec, unit.dist);
    planned.push({ target: `bin/${ep.name}`, script: entryPointScript(ep, options.prefix, py) });
  }
  return planned;
}

/**
 * Every directory the packages need, made up front (shortest first, each level in parallel): otherwise
 * the first files of a directory all fail to link at once and all make it.
 */
async function makeDirectories(root: string, plans: Planned[][]): Promise<void> {
  const dirs = new Set<string>();
  // A path some package makes a soft link (lib64 -> lib) is left to that link, not made a directory.
  const links = new Set(plans.flatMap((plan) => plan.filter((p) => p.source?.pathType === 'softlink').map((p) => p.target)));
  for (const plan of plans) {
    for (const p of plan) {
      const dir = p.source?.pathType === 'directory' ? p.target : path.posix.dirname(p.target);
      for (let d = dir; d !== '.' && d !== '' && !dirs.has(d); d = path.posix.dirname(d)) dirs.add(d);
    }
  }
  for (const link of links) {
    for (const d of [...dirs]) if (d === link || d.startsWith(`${link}/`)) dirs.delete(d);
  }
  const byDepth = new Map<number, string[]>();
  for (const d of dirs) {
    const depth = d.split('/').length;
    const level = byDepth.get(depth);
    if (level) level.push(d);
    else byDepth.set(depth, [d]);
  }
  await fsp.mkdir(root, { recursive: true });
  for (const depth of [...byDepth.keys()].sort((a, b) => a - b)) {
    await mapLimit(byDepth.get(depth) as string[], 32, async (d) => {
      await fsp.mkdir(joinInside(root, d)).catch((err: NodeJS.ErrnoException) => {
        if (err.code !== 'EEXIST') throw err;
      });
    });
  }
}

/** Which package owns each path: the last one in dependency order. Warns for every clobbered path. */
function resolveClobbers(units: LinkUnit[], plans: Planned[][], logger: Logger): Map<string, number> {
  const owners = new Map<string, number>();
  plans.forEach((plan, i) => {
    for (const p of plan) {
      if (p.source?.pathType === 'directory') continue;
      const before = owners.get(p.target);
      if (before !== undefined && before !== i) {
        logger.warning(`${p.target} is in both ${units[before].dist} and ${units[i].dist}; ${units[i].dist} (later in dependency order) wins`);
      }
      owners.set(p.target, i);
    }
  });
  return owners;
}

/**
 * A path that takes one system call (a directory, a soft link, a hard link), done synchronously;
 * undefined when the file must be copied instead. Not for a path whose content is rewritten (see linkCostly).
 */
function linkCheap(unit: LinkUnit, planned: Planned, owned: boolean, options: LinkOptions, state: { crossDevice: boolean }): LinkResult | undefined {
  const p = planned.source as PackagePath;
  const dest = joinInside(options.stagingDir, planned.target);
  const base = basePath(planned.target, p);
  if (p.pathType === 'directory') {
    fs.mkdirSync(dest, { recursive: true });
    return { path: base, copied: false };
  }
  const source = joinInside(unit.dir, p.path);
  if (p.pathType === 'softlink') {
    if (owned) {
      const target = fs.readlinkSync(source);
      createSync(dest, () => fs.symlinkSync(target, dest));
    }
    return { path: base, copied: false };
  }
  if (owned && !hardlinked(source, dest, Boolean(p.noLink), state)) return undefined;
  return { path: base, copied: false };
}

function basePath(target: string, p: PackagePath): LinkedPath {
  const base: LinkedPath = { _path: target, path_type: p.pathType, sha256: p.sha256, size_in_bytes: p.size };
  if (p.noLink) base.no_link = true;
  return base;
}

/** An entry point's script, or a file with its placeholder replaced: read, rewritten, hashed. */
async function linkCostly(unit: LinkUnit, planned: Planned, owned: boolean, options: LinkOptions): Promise<LinkResult> {
  const dest = joinInside(options.stagingDir, planned.target);
  if (planned.script !== undefined) {
    if (owned) await writeFresh(dest, planned.script, 0o755);
    const data = Buffer.from(planned.script);
    return { path: { _path: planned.target, path_type: 'unix_python_entry_point', sha256: sha256Hex(data), size_in_bytes: data.length }, copied: false };
  }
  const p = planned.source as PackagePath;
  const source = joinInside(unit.dir, p.path);
  const written = owned ? await writeReplaced(unit, source, dest, p, options.prefix) : undefined;
  // Like rattler, size_in_bytes is the size of the file in the prefix (after replacement).
  return {
    path: { ...basePath(planned.target, p), prefix_placeholder: p.prefixPlaceholder, file_mode: p.fileMode, ...written },
    copied: false,
  };
}

/** A file with its placeholder replaced by the final prefix, same mode as in the package. */
async function writeReplaced(
  unit: LinkUnit,
  source: string,
  dest: string,
  p: PackagePath,
  prefix: string,
): Promise<{ sha256_in_prefix: string; size_in_bytes: number }> {
  const [data, st] = await Promise.all([fsp.readFile(source), fsp.stat(source)]);
  let out: Buffer;
  try {
    out = replacePrefix(data, p.prefixPlaceholder as string, prefix, p.fileMode ?? 'text', true);
  } catch (err) {
    if (err instanceof PrefixTooLongError) throw new PackageError(unit.dist, `cannot install ${p.path}: ${err.message}`);
    throw err;
  }
  await writeFresh(dest, out, st.mode & 0o7777);
  return { sha256_in_prefix: sha256Hex(out), size_in_bytes: out.length };
}

/** Hard links `source` at `dest`; false when it must be copied instead (no_link, another file system). */
function hardlinked(source: string, dest: string, noLink: boolean, state: { crossDevice: boolean }): boolean {
  if (noLink || state.crossDevice) return false;
  try {
    createSync(dest, () => fs.linkSync(source, dest));
    return true;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'EXDEV' && code !== 'EPERM' && code !== 'EMLINK' && code !== 'ENOTSUP') throw err;
    if (code === 'EXDEV') state.crossDevice = true;
    return false;
  }
}

/**
 * Runs `make` (which creates `dest`), making the parent directory when missing and replacing
 * whatever is in the way: the cheap path (one system call) is the common one.
 */
async function create(dest: string, make: () => Promise<void>): Promise<void> {
  try {
    await make();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') await fsp.mkdir(path.dirname(dest), { recursive: true });
    else if (code === 'EEXIST') await fsp.rm(dest, { force: true, recursive: true });
    else throw err;
    await make();
  }
}

/** create's synchronous twin, for the one-system-call paths. */
function createSync(dest: string, make: () => void): void {
  try {
    make();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') fs.mkdirSync(path.dirname(dest), { recursive: true });
    else if (code === 'EEXIST') fs.rmSync(dest, { force: true, recursive: true });
    else throw err;
    make();
  }
}

async function writeFresh(dest: string, data: string | Buffer, mode: number): Promise<void> {
  await create(dest, () => fsp.writeFile(dest, data, { mode, flag: 'wx' }));
  await fsp.chmod(dest, mode); // writeFile's mode is filtered by the umask
}
