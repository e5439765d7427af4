import fs from 'node:fs/promises';
import path from 'node:path';
import { PackageError } from '../util/errors.js';
import type { FileMode } from './prefix-replace.js';
import { isPlainRel, normalizeRel, unsafePathReason } from './path-safety.js';

/** The placeholder conda-build used before it wrote paths.json (has_prefix's default). */
export const LEGACY_PLACEHOLDER = '/opt/anaconda1anaconda2anaconda3';

export type PathType = 'hardlink' | 'softlink' | 'directory';

/** One entry of info/paths.json (the package's own view, before noarch remapping). */
export interface PackagePath {
  path: string;
  pathType: PathType;
  sha256?: string;
  size?: number;
  prefixPlaceholder?: string;
  fileMode?: FileMode;
  noLink?: boolean;
}

/** info/index.json: the fields conda-meta copies. */
export interface IndexJson {
  name: string;
  version: string;
  build: string;
  build_number: number;
  depends?: string[];
  constrains?: string[];
  subdir?: string;
  noarch?: string | boolean;
  license?: string;
  timestamp?: number;
  [key: string]: unknown;
}

export interface PackageInfo {
  index: IndexJson;
  paths: PackagePath[];
  /** `noarch: python` (index.json's `noarch`, or link.json's `noarch.type`). */
  noarchPython: boolean;
  /** `name = module:func` lines from info/link.json. */
  entryPoints: string[];
}

/** Reads what the linker needs from an extracted package directory. */
export async function readPackageInfo(dir: string, pkg: string): Promise<PackageInfo> {
  // The three files at once: on a network file system each read is a round trip or more.
  // Their failures are then told in the order they were read one after the other.
  const [indexRead, linkRead, pathsRead] = await Promise.allSettled([
    readJson<IndexJson>(path.join(dir, 'info', 'index.json'), pkg),
    readJson<{ noarch?: { type?: string; entry_points?: string[] } }>(path.join(dir, 'info', 'link.json'), pkg),
    readPathsJson(dir, pkg),
  ]);
  const index = settled(indexRead);
  if (!index) throw new PackageError(pkg, 'info/index.json is missing');
  checkIndexNames(index, pkg);
  const link = settled(linkRead);
  const paths = settled(pathsRead) ?? (await readLegacyPaths(dir, pkg));
  checkPaths(paths, pkg);
  const noarch = index.noarch === true ? 'python' : index.noarch;
  return {
    index,
    paths,
    noarchPython: noarch === 'python' || link?.noarch?.type === 'python',
    entryPoints: link?.noarch?.entry_points ?? [],
  };
}

/** Refuses a path leading out of the prefix; normalizes the others (`a//b/./c` is `a/b/c`). */
function checkPaths(paths: PackagePath[], pkg: string): void {
  for (const p of paths) {
    if (isPlainRel(p.path)) continue;
    const reason = unsafePathReason(p.path) ?? unsafePathReason(normalizeRel(p.path));
    if (reason) throw new PackageError(pkg, `refused: its file list names ${reason}`);
    p.path = normalizeRel(p.path);
  }
}

const PATH_TYPES = new Set<unknown>(['hardlink', 'softlink', 'directory']);

/**
 * A PackageInfo kept in the package cache's completion marker (package-cache.ts), which saves reading
 * three files per package on every install from the cache; checked as one read from the package's
 * files is. Undefined when it is not one (an entry of an earlier gitenv, a marker edited by hand):
 * the caller then reads the files.
 */
export function storedPackageInfo(stored: unknown, pkg: string): PackageInfo | undefined {
  if (typeof stored !== 'object' || stored === null) return undefined;
  const { index, paths, noarchPython, entryPoints } = stored as Partial<Record<keyof PackageInfo, unknown>>;
  if (typeof index !== 'object' || index === null || !Array.isArray(paths) || typeof noarchPython !== 'boolean') return undefined;
  if (!Array.isArray(entryPoints) || !entryPoints.every((e) => typeof e === 'string')) return undefined;
  const wellFormed = (p: unknown): p is PackagePath => {
    const q = p as Partial<Record<keyof PackagePath, unknown>> | null;
    return (
      typeof q === 'object' &&
      q !== null &&
      typeof q.path === 'string' &&
      PATH_TYPES.has(q.pathType) &&
      (q.sha256 === undefined || typeof q.sha256 === 'string') &&
      (q.size === undefined || typeof q.size === 'number') &&
      (q.prefixPlaceholder === undefined || typeof q.prefixPlaceholder === 'string') &&
      (q.fileMode === undefined || q.fileMode === 'text' || q.fileMode === 'binary') &&
      (q.noLink === undefined || typeof q.noLink === 'boolean')
    );
  };
  if (!paths.every(wellFormed)) return undefined;
  try {
    checkIndexNames(index as IndexJson, pkg);
    checkPaths(paths, pkg);
  } catch {
    return undefined;
  }
  return { index: index as IndexJson, paths, noarchPython, entryPoints };
}

function settled<T>(result: PromiseSettledResult<T>): T {
  if (result.status === 'rejected') throw result.reason;
  return result.value;
}

/**
 * info/index.json's name, version and build make file names in the prefix (conda-meta's record, the
 * post-link script): they must be the very package the lock names (`<name>-<version>-<build>` is the
 * dist of its file name), each one plain text without a path separator or a control character.
 */
export function checkIndexNames(index: IndexJson, dist: string): void {
  const fields = { name: index.name, version: index.version, build: index.build };
  for (const [field, value] of Object.entries(fields)) {
    // eslint-disable-next-line no-control-regex
    if (typeof value !== 'string' || value === '' || /[/\\\x00-\x1f\x7f\s]/.test(value) || value === '.' || value === '..') {
      throw new PackageError(dist, `refused: info/index.json's ${field} ${JSON.stringify(value)} is not a valid package ${field}`);
    }
  }
  const named = `${fields.name}-${fields.version}-${fields.build}`;
  if (named !== dist) {
    throw new PackageError(dist, `refused: info/index.json names ${JSON.stringify(named)}, not the package the lock names (${dist})`);
  }
}

async function readJson<T>(file: string, pkg: string): Promise<T | undefined> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  try {
    return JSON.parse(text) as T;
  } catch (err) {
    throw new PackageError(pkg, `${path.basename(file)} is not valid JSON: ${(err as Error).message}`);
  }
}

interface RawPath {
  _path: string;
  path_type?: string;
  sha256?: string;
  size_in_bytes?: number;
  prefix_placeholder?: string;
  file_mode?: string;
  no_link?: boolean;
}

async function readPathsJson(dir: string, pkg: string): Promise<PackagePath[] | undefined> {
  const json = await readJson<{ paths?: RawPath[] }>(path.join(dir, 'info', 'paths.json'), pkg);
  if (!json) return undefined;
  if (!Array.isArray(json.paths)) throw new PackageError(pkg, 'info/paths.json has no "paths" list');
  return json.paths.map((p) => {
    if (typeof p._path !== 'string') throw new PackageError(pkg, 'info/paths.json has an entry without _path');
    const pathType = p.path_type === 'softlink' || p.path_type === 'directory' ? p.path_type : 'hardlink';
    return {
      path: p._path,
      pathType,
      sha256: p.sha256,
      size: p.size_in_bytes,
      prefixPlaceholder: p.prefix_placeholder,
      fileMode: p.prefix_placeholder ? (p.file_mode === 'binary' ? 'binary' : 'text') : undefined,
      noLink: p.no_link,
    };
  });
}

/** Packages older than paths.json: info/files, info/has_prefix, info/no_link. */
async function readLegacyPaths(dir: string, pkg: string): Promise<PackagePath[]> {
  const files = await readLines(path.join(dir, 'info', 'files'));
  if (!files) throw new PackageError(pkg, 'neither info/paths.json nor info/files is present');
  const prefixes = new Map(parseHasPrefix((await readLines(path.join(dir, 'info', 'has_prefix'))) ?? []).map((h) => [h.path, h]));
  const noLink = new Set((await readLines(path.join(dir, 'info', 'no_link'))) ?? []);
  const out: PackagePath[] = [];
  for (const file of files) {
    const st = await fs.lstat(path.join(dir, file)).catch(() => undefined);
    const h = prefixes.get(file);
    out.push({
      path: file,
      pathType: st?.isSymbolicLink() ? 'softlink' : 'hardlink',
      prefixPlaceholder: h?.placeholder,
      fileMode: h?.mode,
      noLink: noLink.has(file) || undefined,
    });
  }
  return out;
}

async function readLines(file: string): Promise<string[] | undefined> {
  const text = await fs.readFile(file, 'utf8').catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return undefined;
    throw err;
  });
  return text
    ?.split('\n')
    .map((l) => l.replace(/\r$/, ''))
    .filter((l) => l.trim().length > 0);
}

export interface HasPrefixEntry {
  path: string;
  placeholder: string;
  mode: FileMode;
}

/** info/has_prefix lines: `path`, or `placeholder mode path` (fields may be double-quoted). */
export function parseHasPrefix(lines: string[]): HasPrefixEntry[] {
  return lines.map((line) => {
    const fields = [...line.matchAll(/"([^"]*)"|(\S+)/g)].map((m) => m[1] ?? m[2]);
    if (fields.length >= 3) {
      return { placeholder: fields[0], mode: fields[1] === 'binary' ? 'binary' : 'text', path: fields.slice(2).join(' ') };
    }
    return { placeholder: LEGACY_PLACEHOLDER, mode: 'text', path: fields.join(' ') };
  });
}
