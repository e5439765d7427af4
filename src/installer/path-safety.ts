import fs from 'node:fs/promises';
import path from 'node:path';

/**
 * Checks that keep a package inside its directory. Paths here are archive or paths.json paths:
 * relative, `/`-separated. A package that fails any of them is refused whole, never "cleaned up".
 */

/**
 * `rel` with its empty and `.` segments dropped (`a/./b`, `a//b`, `./a/` all become `a/b` or `a`):
 * the one form every check compares and every write uses, so that no check is fooled by spelling.
 * An absolute path is returned as it is, for unsafePathReason to refuse.
 */
export function normalizeRel(rel: string): string {
  if (rel.startsWith('/') || rel.startsWith('\\')) return rel;
  return rel
    .split('/')
    .filter((s) => s !== '' && s !== '.')
    .join('/');
}

/**
 * True when `rel` is already in normalizeRel's form and unsafePathReason has nothing against it (no
 * empty, `.` or `..` segment, no leading or trailing `/`, no backslash, NUL or drive letter): the
 * common case, told with one regular expression test.
 */
export function isPlainRel(rel: string): boolean {
  return rel !== '' && !NEEDS_CARE.test(rel);
}
const NEEDS_CARE = /(^|\/)\.\.?(\/|$)|\/\/|^\/|\/$|\\|\0|^[A-Za-z]:/;

/** Why `rel` may not be written under a package root, or undefined when it may. */
export function unsafePathReason(rel: string): string | undefined {
  if (rel.length === 0) return 'an empty path';
  if (rel.includes('\0')) return 'a NUL byte in a path';
  if (rel.startsWith('/') || rel.startsWith('\\') || /^[A-Za-z]:/.test(rel)) return `absolute path ${rel}`;
  const parts = rel.split(/[/\\]+/);
  if (parts.includes('..')) return `path ${rel} leaves its directory`;
  return undefined;
}

/**
 * Why a link at `rel` pointing to `target` leads out of the package root, or undefined.
 * Soft link targets are relative to the link's own directory; hard link targets to the root.
 */
export function unsafeLinkReason(rel: string, target: string, kind: 'symlink' | 'hardlink'): string | undefined {
  if (target.length === 0) return `${kind} ${rel} has an empty target`;
  if (target.includes('\0')) return `${kind} ${rel} has a NUL byte in its target`;
  if (path.posix.isAbsolute(target) || /^[A-Za-z]:/.test(target)) {
    return `${kind} ${rel} -> ${target} is absolute`;
  }
  const from = kind === 'symlink' ? path.posix.dirname(rel) : '.';
  const resolved = path.posix.normalize(path.posix.join(from, target.replace(/\\/g, '/')));
  if (resolved === '..' || resolved.startsWith('../')) return `${kind} ${rel} -> ${target} leads out of the package`;
  return undefined;
}

/** The tar entry types a conda package may hold. Devices, FIFOs and the like are refused. */
export const ALLOWED_ENTRY_TYPES: ReadonlySet<string> = new Set(['File', 'OldFile', 'ContiguousFile', 'Directory', 'SymbolicLink', 'Link']);

/**
 * Mode bits kept from an archive: the owner's permissions, read and execute for the others, and the
 * sticky bit; never setuid/setgid, never write for group or others (as Python tarfile's `data`
 * filter): the files are hard links shared by the cache and every prefix that uses the package, so
 * one world-writable file would let any local user rewrite all of those environments.
 */
export function safeMode(mode: number | undefined): number | undefined {
  return mode === undefined ? undefined : mode & 0o1755;
}

/** The mode of every directory the installer makes (the umask may take more). */
export const DIR_MODE = 0o755;

/** `root/rel` resolved, after checking it stays under `root` (defence in depth for the linker). */
export function joinInside(root: string, rel: string): string {
  const base = resolvedRoot(root);
  if (isPlainRel(rel)) return base.endsWith(path.sep) ? base + rel : base + path.sep + rel;
  const full = path.resolve(root, rel);
  if (full !== base && !full.startsWith(base + path.sep)) {
    throw new Error(`path ${rel} resolves outside ${root}`);
  }
  return full;
}

/** path.resolve(root), remembered: the linker joins thousands of paths to a few package directories. */
function resolvedRoot(root: string): string {
  if (!path.isAbsolute(root)) return path.resolve(root); // relative: the working directory may change
  let base = roots.get(root);
  if (base === undefined) {
    base = path.resolve(root);
    if (roots.size > 10_000) roots.clear();
    roots.set(root, base);
  }
  return base;
}
const roots = new Map<string, string>();

/**
 * Whether the soft link at `rel` (under `root`) resolves inside `root` once every link on its way is
 * followed. Each link's target was already checked on its own (unsafeLinkReason); this catches chains,
 * such as `a/b -> ..` and `c -> a/b/..`, each inside on paper but leading out together. Components that
 * do not exist are taken as plain directories; more than 40 links on the way counts as leading out.
 */
export async function linkStaysInside(root: string, rel: string): Promise<boolean> {
  const resolved: string[] = [];
  let queue = rel.split('/');
  let hops = 0;
  while (queue.length > 0) {
    const part = queue.shift() as string;
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (resolved.length === 0) return false;
      resolved.pop();
      continue;
    }
    const here = path.join(root, ...resolved, part);
    const st = await fs.lstat(here).catch(() => undefined);
    if (!st?.isSymbolicLink()) {
      resolved.push(part);
      continue;
    }
    const target = await fs.readlink(here);
    if (++hops > 40 || path.posix.isAbsolute(target)) return false;
    queue = [...target.split('/'), ...queue];
  }
  return true;
}
