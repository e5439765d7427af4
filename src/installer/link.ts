import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { PackageError, errorMessage } from '../util/errors.js';
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
  // File operations are cheap but many: several packages at once, several files of each at once,
  // so the thread pool always has work queued.
  return mapLimit(units, options.concurrency ?? 8, async (unit, i) => {
    const linked = await mapLimit(plans[i], 16, async (planned) => {
      try {
        return await linkOne(unit, planned, owners.get(planned.target) === i, options, state);
      } catch (err) {
        if (err instanceof PackageError) throw err;
        throw new PackageError(unit.dist, `cannot link ${planned.target}: ${errorMessage(err)}`, { cause: err });
      }
    });
    const copied = linked.some((l) => l.copied);
    return { unit, paths: linked.map((l) => l.path), linkType: copied && state.crossDevice ? 3 : 1 };
  });
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
  await fs.mkdir(root, { recursive: true });
  for (const depth of [...byDepth.keys()].sort((a, b) => a - b)) {
    await mapLimit(byDepth.get(depth) as string[], 32, async (d) => {
      await fs.mkdir(joinInside(root, d)).catch((err: NodeJS.ErrnoException) => {
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

async function linkOne(
  unit: LinkUnit,
  planned: Planned,
  owned: boolean,
  options: LinkOptions,
  state: { crossDevice: boolean },
): Promise<{ path: LinkedPath; copied: boolean }> {
  const dest = joinInside(options.stagingDir, planned.target);
  if (planned.script !== undefined) {
    if (owned) await writeFresh(dest, planned.script, 0o755);
    const data = Buffer.from(planned.script);
    return { path: { _path: planned.target, path_type: 'unix_python_entry_point', sha256: sha256(data), size_in_bytes: data.length }, copied: false };
  }
  const p = planned.source as PackagePath;
  const base: LinkedPath = { _path: planned.target, path_type: p.pathType, sha256: p.sha256, size_in_bytes: p.size };
  if (p.noLink) base.no_link = true;
  if (p.pathType === 'directory') {
    await fs.mkdir(dest, { recursive: true });
    return { path: base, copied: false };
  }
  const source = joinInside(unit.dir, p.path);
  if (p.pathType === 'softlink') {
    if (owned) await symlinkFresh(await fs.readlink(source), dest);
    return { path: base, copied: false };
  }
  if (p.prefixPlaceholder) {
    const written = owned ? await writeReplaced(unit, source, dest, p, options.prefix) : undefined;
    // Like rattler, size_in_bytes is the size of the file in the prefix (after replacement).
    return {
      path: { ...base, prefix_placeholder: p.prefixPlaceholder, file_mode: p.fileMode, ...written },
      copied: false,
    };
  }
  const copied = owned ? await hardlinkOrCopy(source, dest, Boolean(p.noLink), state) : false;
  return { path: base, copied };
}

/** A file with its placeholder replaced by the final prefix, same mode as in the package. */
async function writeReplaced(
  unit: LinkUnit,
  source: string,
  dest: string,
  p: PackagePath,
  prefix: string,
): Promise<{ sha256_in_prefix: string; size_in_bytes: number }> {
  const [data, st] = await Promise.all([fs.readFile(source), fs.stat(source)]);
  let out: Buffer;
  try {
    out = replacePrefix(data, p.prefixPlaceholder as string, prefix, p.fileMode ?? 'text', true);
  } catch (err) {
    if (err instanceof PrefixTooLongError) throw new PackageError(unit.dist, `cannot install ${p.path}: ${err.message}`);
    throw err;
  }
  await writeFresh(dest, out, st.mode & 0o7777);
  return { sha256_in_prefix: sha256(out), size_in_bytes: out.length };
}

async function hardlinkOrCopy(source: string, dest: string, noLink: boolean, state: { crossDevice: boolean }): Promise<boolean> {
  if (!noLink && !state.crossDevice) {
    try {
      await create(dest, () => fs.link(source, dest));
      return false;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'EXDEV' && code !== 'EPERM' && code !== 'EMLINK' && code !== 'ENOTSUP') throw err;
      if (code === 'EXDEV') state.crossDevice = true;
    }
  }
  // copyFile keeps the source's permission bits.
  await create(dest, () => fs.copyFile(source, dest, fs.constants.COPYFILE_EXCL));
  return true;
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
    if (code === 'ENOENT') await fs.mkdir(path.dirname(dest), { recursive: true });
    else if (code === 'EEXIST') await fs.rm(dest, { force: true, recursive: true });
    else throw err;
    await make();
  }
}

async function writeFresh(dest: string, data: string | Buffer, mode: number): Promise<void> {
  await create(dest, () => fs.writeFile(dest, data, { mode, flag: 'wx' }));
  await fs.chmod(dest, mode); // writeFile's mode is filtered by the umask
}

async function symlinkFresh(target: string, dest: string): Promise<void> {
  await create(dest, () => fs.symlink(target, dest));
}

function sha256(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex');
}
