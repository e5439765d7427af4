/**
 * Who may read the deployed tree. Users other than the runner load the environments, so whatever the
 * runner's umask, prefixes, label links, modulefiles and the package cache are readable (directories
 * searchable) by everyone — or, with a `group`, owned by that group, readable by it, and not by others
 * when `worldReadable` is false. Bits are only ever added for reading and searching (an executable
 * stays executable, a read-only file read-only), and taken away from others only in that last case.
 *
 * Two mechanisms: while deploying, the process umask is the one the access asks for (so what the
 * installer, micromamba and post-link scripts create is right from the start), and a new prefix's
 * tree is walked once before it appears under its final name (what a package ships, modes set
 * explicitly, hard links shared with the package cache). Directories of the group case get the
 * setgid bit, so what is created in them later inherits the group.
 */
import { execFile } from 'node:child_process';
import { lstatSync, promises as fs, readdirSync, type Stats } from 'node:fs';
import * as path from 'node:path';
import { ConfigurationError } from '../util/errors.js';

export interface TreeAccess {
  /** The owning group; undefined: the runner's own group, world readable. */
  gid?: number;
  /** The group's name as given (for messages). */
  groupName?: string;
  worldReadable: boolean;
}

/** Readable by everyone, the default. */
export const WORLD_READABLE: TreeAccess = { worldReadable: true };

/** Resolves the `group` input (a name through NSS, as `getent` sees it, or a number). */
export async function treeAccess(group: string | undefined, worldReadable = true): Promise<TreeAccess> {
  if (!group) {
    if (!worldReadable) throw new ConfigurationError('Input world-readable: false needs input group (who else would read the tree?)');
    return WORLD_READABLE;
  }
  const gid = /^\d+$/.test(group) ? Number(group) : await lookUpGroup(group);
  return { gid, groupName: group, worldReadable };
}

function lookUpGroup(name: string): Promise<number> {
  if (!/^[A-Za-z0-9_.][A-Za-z0-9_.-]*\$?$/.test(name)) {
    return Promise.reject(new ConfigurationError(`Input group: "${name}" is not a group name`));
  }
  return new Promise((resolve, reject) => {
    execFile('getent', ['group', name], { timeout: 10_000 }, (err, stdout) => {
      const gid = Number(stdout.split(':')[2]);
      if (err || !Number.isInteger(gid)) reject(new ConfigurationError(`Input group: no group "${name}" on this machine`));
      else resolve(gid);
    });
  });
}

/** The umask that makes new files come out as `access` wants them. */
export function umaskFor(access: TreeAccess): number {
  return access.worldReadable ? 0o022 : 0o027;
}

/** Runs `fn` with the umask of `access`, restoring the runner's afterwards. */
export async function withUmask<T>(access: TreeAccess, fn: () => Promise<T>): Promise<T> {
  const previous = process.umask(umaskFor(access));
  try {
    return await fn();
  } finally {
    process.umask(previous);
  }
}

/** The mode an entry gets: read (and search, where anyone may execute) added for whom `access` allows. */
export function wantedMode(mode: number, isDirectory: boolean, access: TreeAccess): number {
  const others = access.worldReadable;
  let m = mode & 0o7777;
  const read = others ? 0o444 : 0o440;
  const exec = others ? 0o111 : 0o110;
  m |= read;
  if (isDirectory || (mode & 0o111) !== 0) m |= exec;
  if (!others) m &= ~0o007;
  if (isDirectory && access.gid !== undefined) m |= 0o2000;
  return m;
}

/** Gives one entry (file or directory, never through a symlink) the access wanted; true when changed. */
export async function fixEntry(p: string, access: TreeAccess): Promise<boolean> {
  const st = await fs.lstat(p);
  return fixStat(p, st, access);
}

async function fixStat(p: string, st: Stats, access: TreeAccess): Promise<boolean> {
  let changed = false;
  if (access.gid !== undefined && st.gid !== access.gid) {
    // chown clears setuid/setgid bits of files: the mode below is set again from the original.
    await fs.lchown(p, st.uid, access.gid);
    changed = true;
  }
  if (st.isSymbolicLink()) return changed;
  const mode = wantedMode(st.mode, st.isDirectory(), access);
  if (changed || mode !== (st.mode & 0o7777)) {
    await fs.chmod(p, mode);
    changed = true;
  }
  return changed;
}

/**
 * Walks a tree (not following symlinks) and fixes every entry below `root`, `root` itself left as it
 * is (a staging directory stays private until it is renamed). Returns how many entries changed.
 */
export async function fixTree(root: string, access: TreeAccess): Promise<number> {
  let changed = 0;
  let sinceYield = 0;
  // Listing and lstat are synchronous: a few microseconds each, where an awaited call per entry costs
  // a thread-pool round trip (a prefix has thousands of entries, nearly all already right). Only the
  // changes are asynchronous; the walk yields now and then so the process stays responsive.
  const walk = async (dir: string): Promise<void> => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, entry.name);
      const st = lstatSync(p);
      if (needsFix(st, access) && (await fixStat(p, st, access))) changed++;
      if (st.isDirectory()) await walk(p);
      if (++sinceYield >= 1024) {
        sinceYield = 0;
        await new Promise((resolve) => setImmediate(resolve));
      }
    }
  };
  await walk(root);
  return changed;
}

/** Whether fixStat would change anything on this entry. */
function needsFix(st: Stats, access: TreeAccess): boolean {
  if (access.gid !== undefined && st.gid !== access.gid) return true;
  return !st.isSymbolicLink() && wantedMode(st.mode, st.isDirectory(), access) !== (st.mode & 0o7777);
}

/**
 * Makes a directory gitenv owns (the target, an environment directory, the package cache, the
 * modulefiles directory) exist and readable as `access` wants. One it cannot change (another user's)
 * is left as it is: the site set it up.
 */
export async function ensureDir(dir: string, access: TreeAccess): Promise<void> {
  await fs.mkdir(dir, { recursive: true });
  await fixEntry(dir, access).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPERM') throw err;
  });
}

/**
 * Left in a package cache by a deploy whose access is restricted (a group, or not world readable):
 * its walk over a new prefix changes the mode and group of the cache's files through their hard
 * links, so their entries' record of being readable by anyone (package-cache.ts) no longer holds.
 */
const RESTRICTED_MARK = '.gitenv-restricted-access';

/** Whether `access` restricts the tree (a group, or not world readable). */
export function isRestricted(access: TreeAccess): boolean {
  return access.gid !== undefined || !access.worldReadable;
}

/** Records in `pkgCache` that a restricted deploy uses it (from then on, every deploy walks its prefixes). */
export async function markCacheRestricted(pkgCache: string): Promise<void> {
  await fs
    .writeFile(path.join(pkgCache, RESTRICTED_MARK), 'A deploy with a group or without world-readable used this package cache.\n', { flag: 'wx', mode: 0o644 })
    .catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'EEXIST') throw err;
    });
}

/** Whether a restricted deploy ever used `pkgCache`. */
export async function cacheWasRestricted(pkgCache: string): Promise<boolean> {
  return fs.access(path.join(pkgCache, RESTRICTED_MARK)).then(
    () => true,
    () => false,
  );
}
