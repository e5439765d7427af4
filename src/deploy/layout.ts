/**
 * Where deploy puts things under `<target>` and how it tells a complete prefix from a half-built one.
 *
 *   <target>/<env>/<deployed-name>/                 a complete prefix (has conda-meta/gitenv.json)
 *   <target>/<env>/.staging-<deployed-name>-<rand>  a prefix being built (removed if a run died)
 *   <target>/<env>/.trash-<deployed-name>-<rand>    a prefix being removed (prune, replacement)
 *   <target>/<env>/<label> -> <deployed-name>       label symlinks (see symlinks.ts)
 */
import { randomBytes } from 'node:crypto';
import { promises as fs, readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import type { Engine } from '../engines/types.js';
import { GitenvError } from '../util/errors.js';
import { moveAside, renameReplacing } from '../util/files.js';
import type { Activation } from './activation.js';
import type { TestRecord } from './smoke-tests.js';

/** The completion marker, written last into the staging prefix. */
export const MARKER_FILE = path.join('conda-meta', 'gitenv.json');

/**
 * Stands in a prefix from before its rename until its marker is written (post-link scripts and smoke
 * tests run in between), and after a failure there, holding the reason. Such a prefix is incomplete.
 */
export const INCOMPLETE_FILE = path.join('conda-meta', 'gitenv.incomplete');

/** Deployed names are `YYYY_MM_DD` or `YYYY_MM_DD-N` (the tail of a tag name). */
export const DEPLOYED_NAME = /^\d{4}_\d{2}_\d{2}(?:-\d+)?$/;

const STAGING_PREFIX = '.staging-';
const TRASH_PREFIX = '.trash-';
/** Temporary names of label symlinks being switched (symlinks.ts). */
export const LINK_TEMP_PREFIX = '.link-';

export interface DeployMarker {
  env: string;
  tag: string;
  deployedName: string;
  commit: string;
  /** sha256 of the env.lock (or env.manifest for an old-tool tag) that was installed. */
  lockSha256: string;
  engine: Engine;
  /** ISO time the prefix was completed. */
  time: string;
  gitenvVersion: string;
  packages: number;
  /** Apparent size in bytes of the prefix when it was completed (for the summary). */
  sizeBytes?: number;
  /** env.spec's smoke tests, passed (or skipped on request) before any label pointed here. */
  tests?: TestRecord;
  /** What the activation scripts export, for the modulefiles (absent: deployed before it was recorded). */
  activation?: Activation;
  /** The platform whose lock was installed (absent: deployed before platforms were recorded, or adopted). */
  platform?: string;
}

/** `<target>/<env>`. A name that could leave the target or hide among gitenv's own entries is refused. */
export function envDir(target: string, env: string): string {
  if (env === '' || env.startsWith('.') || /[/\\\0]/.test(env)) {
    throw new GitenvError(`"${env}" cannot be deployed: an environment directory name must not start with "." or hold "/"`);
  }
  return path.join(target, env);
}

export function defaultPkgCache(target: string): string {
  return path.join(target, '.pkg_cache');
}

/** A fresh, empty staging directory beside the final prefix (same file system, so rename works). */
export async function makeStagingDir(dir: string, deployedName: string): Promise<string> {
  await fs.mkdir(dir, { recursive: true });
  const staging = path.join(dir, `${STAGING_PREFIX}${deployedName}-${randomBytes(4).toString('hex')}`);
  // Private until the rename, whatever the umask: nobody reads a prefix being built.
  await fs.mkdir(staging, { mode: 0o700 });
  await fs.chmod(staging, 0o700);
  return staging;
}

/** Marks a prefix incomplete, with the reason (see INCOMPLETE_FILE). */
export async function markIncomplete(prefix: string, reason: string): Promise<void> {
  const file = path.join(prefix, INCOMPLETE_FILE);
  await fs.mkdir(path.dirname(file), { recursive: true });
  await fs.writeFile(file, `${reason}\n`);
}

/** The reason a prefix is incomplete, or undefined when it carries no such mark. */
export async function readIncomplete(prefix: string): Promise<string | undefined> {
  return fs.readFile(path.join(prefix, INCOMPLETE_FILE), 'utf8').catch(() => undefined);
}

/**
 * The marker of a complete prefix, or undefined when the directory is missing or incomplete.
 *
 * The deploy's own small reads (a marker, a directory's names, a label's link: here and in
 * symlinks.ts) are made synchronously behind their promise: an environment's plan takes a dozen of
 * them, each a round trip through the thread pool that costs more than the read (a no-op deploy of
 * 21 environments spent most of its time waiting on them). Nothing else of the deploy runs meanwhile.
 */
export function readMarker(prefix: string): Promise<DeployMarker | undefined> {
  return Promise.resolve(readMarkerNow(prefix));
}

function readMarkerNow(prefix: string): DeployMarker | undefined {
  let text: string;
  try {
    text = readFileSync(path.join(prefix, MARKER_FILE), 'utf8');
  } catch {
    return undefined;
  }
  try {
    const marker = JSON.parse(text) as DeployMarker;
    return typeof marker.tag === 'string' && typeof marker.commit === 'string' ? marker : undefined;
  } catch {
    return undefined;
  }
}

/** True when `prefix` is a complete deploy of `tag` (any tag when not given). */
export async function isComplete(prefix: string, tag?: string): Promise<boolean> {
  const marker = await readMarker(prefix);
  return marker !== undefined && (tag === undefined || marker.tag === tag);
}

/** Writes the marker (flushed to disk) into a staging prefix; the caller renames it afterwards. */
export async function writeMarker(stagingDir: string, marker: DeployMarker): Promise<void> {
  const file = path.join(stagingDir, MARKER_FILE);
  await fs.mkdir(path.dirname(file), { recursive: true });
  // A new file: whatever stands at its path (a package's file hard linked from the cache) is removed, never written into.
  await fs.rm(file, { force: true });
  const handle = await fs.open(file, 'wx');
  try {
    await handle.writeFile(JSON.stringify(marker, null, 2) + '\n');
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Moves a complete staging prefix to its final name. A directory already standing there without a
 * marker (a prefix made by the old tool, or by hand) is moved aside first and removed afterwards;
 * readers that hold files open keep them (rename never touches inodes). A complete prefix already
 * there (only possible if the environment's lock was lost) is kept and the staging one dropped.
 */
export async function moveIntoPlace(stagingDir: string, prefix: string): Promise<{ replaced: boolean; kept?: boolean }> {
  const done = await renameReplacing(stagingDir, prefix, TRASH_PREFIX, isComplete);
  return done === 'kept' ? { replaced: false, kept: true } : { replaced: done === 'replaced' };
}

/** Renames a directory to a hidden trash name beside it (atomic), to be removed at leisure. */
export async function moveToTrash(dir: string): Promise<string> {
  return moveAside(dir, TRASH_PREFIX);
}

/** Hidden leftovers of a killed run: staging prefixes, half-removed prefixes, temporary symlinks. */
export function isLeftover(name: string): boolean {
  return name.startsWith(STAGING_PREFIX) || name.startsWith(TRASH_PREFIX) || name.startsWith(LINK_TEMP_PREFIX);
}

/** Lists the leftovers in an environment directory (none when it does not exist). */
export function findLeftovers(dir: string): Promise<string[]> {
  return Promise.resolve(
    listDir(dir)
      .filter(isLeftover)
      .map((n) => path.join(dir, n)),
  );
}

/**
 * Removes leftovers of killed runs. Only safe while holding the environment's lock: a live deploy
 * of this environment holds it too, so every staging directory seen here is a dead one.
 */
export async function removeLeftovers(dir: string): Promise<string[]> {
  const leftovers = await findLeftovers(dir);
  for (const p of leftovers) await fs.rm(p, { recursive: true, force: true });
  return leftovers;
}

/** Deployed prefixes (by name) in an environment directory, complete or not. */
export function listDeployedNames(dir: string): Promise<string[]> {
  const names: string[] = [];
  for (const entry of listDirEntries(dir)) {
    if (entry.isDirectory() && DEPLOYED_NAME.test(entry.name)) names.push(entry.name);
  }
  return Promise.resolve(names.sort(compareDeployedNames));
}

/** Orders deployed names oldest first: by date, then by the `-N` suffix (none before -1). */
export function compareDeployedNames(a: string, b: string): number {
  const [da, na] = splitDeployedName(a);
  const [db, nb] = splitDeployedName(b);
  return da < db ? -1 : da > db ? 1 : na - nb;
}

function splitDeployedName(name: string): [string, number] {
  const m = /^(\d{4}_\d{2}_\d{2})(?:-(\d+))?$/.exec(name);
  return m ? [m[1], m[2] ? Number(m[2]) : 0] : [name, 0];
}

/**
 * Size in bytes of a prefix's package files, summed from its conda-meta records (`size_in_bytes` of
 * each path, as conda, micromamba and gitenv write them): no walk over thousands of files.
 */
export async function condaMetaSize(prefix: string): Promise<number> {
  const dir = path.join(prefix, 'conda-meta');
  let total = 0;
  for (const name of listDir(dir)) {
    if (!name.endsWith('.json') || name === path.basename(MARKER_FILE)) continue;
    try {
      const record = JSON.parse(await fs.readFile(path.join(dir, name), 'utf8')) as {
        paths_data?: { paths?: { size_in_bytes?: number }[] };
      };
      for (const p of record.paths_data?.paths ?? []) total += p.size_in_bytes ?? 0;
    } catch {
      // an unreadable record only makes the summary's size smaller
    }
  }
  return total;
}

function listDir(dir: string): string[] {
  return listDirEntries(dir).map((e) => e.name);
}

function listDirEntries(dir: string): import('node:fs').Dirent[] {
  try {
    return readdirSync(dir, { withFileTypes: true });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
}
