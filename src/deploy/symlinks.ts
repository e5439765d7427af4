/**
 * Label symlinks: `<target>/<env>/<label> -> <deployed-name>`, relative, one per label (`latest`
 * included). A switch makes the new link under a temporary name and renames it over the old one, so
 * a reader sees the old target or the new one, never a missing or dangling link.
 */
import { randomBytes } from 'node:crypto';
import { promises as fs, readdirSync, readlinkSync } from 'node:fs';
import * as path from 'node:path';
import { errorMessage, GitenvError } from '../util/errors.js';
import { DEPLOYED_NAME, isComplete, LINK_TEMP_PREFIX } from './layout.js';

/** Label names as the repository allows them (`labels/<label>.txt`). */
export const LABEL_NAME = /^[A-Za-z0-9_.-]+$/;

/** What a label should point to. */
export interface WantedLink {
  deployedName: string;
  tag: string;
}

/** One change made (or planned) to a label symlink; `to` undefined means the link is removed. */
export interface LinkChange {
  label: string;
  from?: string;
  to?: string;
  tag?: string;
}

/**
 * The label symlinks gitenv made in an environment directory: label -> the deployed name it points
 * to. Only links whose text is a bare deployed name (what gitenv and the old tool write) are labels;
 * a link the site made (`pinned -> ./2026_01_01`, an absolute link) is no label and never removed as
 * "a label gone" (only a label the repository names is linked over it), and it protects the prefix
 * it leads to from prune (see readPointedTo).
 */
export function readLabelLinks(dir: string): Promise<Map<string, string>> {
  const links = new Map<string, string>();
  for (const entry of symlinksIn(dir)) {
    if (!isLabelName(entry.name)) continue;
    const text = readlinkSafe(path.join(dir, entry.name));
    if (text !== undefined && DEPLOYED_NAME.test(text)) links.set(entry.name, text);
  }
  return Promise.resolve(links);
}

/**
 * The deployed names any symlink in `dir` leads to, whoever made it and however it is written
 * (relative, `./name`, absolute, through another link), but the links named in `except`: prune
 * never removes these.
 */
export async function readPointedTo(dir: string, except: ReadonlySet<string> = new Set()): Promise<Set<string>> {
  const names = new Set<string>();
  const realDir = await fs.realpath(dir).catch(() => dir);
  const nameIn = (base: string, p: string): string | undefined => {
    const rel = path.relative(base, p);
    const first = rel.split(path.sep)[0];
    return rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel) && DEPLOYED_NAME.test(first) ? first : undefined;
  };
  for (const entry of symlinksIn(dir)) {
    if (except.has(entry.name)) continue;
    const link = path.join(dir, entry.name);
    const text = await fs.readlink(link).catch(() => undefined);
    if (text === undefined) continue;
    const lexical = nameIn(dir, path.resolve(dir, text));
    if (lexical) names.add(lexical);
    const real = await fs.realpath(link).catch(() => undefined);
    const resolved = real === undefined ? undefined : nameIn(realDir, real);
    if (resolved) names.add(resolved);
  }
  return names;
}

/** The link's text, read synchronously (layout.ts readMarker says why), or undefined. */
function readlinkSafe(file: string): string | undefined {
  try {
    return readlinkSync(file);
  } catch {
    return undefined;
  }
}

function symlinksIn(dir: string): import('node:fs').Dirent[] {
  try {
    return readdirSync(dir, { withFileTypes: true }).filter((e) => e.isSymbolicLink());
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
}

export function isLabelName(name: string): boolean {
  return LABEL_NAME.test(name) && !name.startsWith('.') && !DEPLOYED_NAME.test(name);
}

/**
 * Labels in a fixed order, by code unit: `localeCompare` would load ICU's collation data on its
 * first call, 5 ms of every deploy, for names that are ASCII by the rules.
 */
const byLabel = ([a]: [string, unknown], [b]: [string, unknown]): number => (a < b ? -1 : a > b ? 1 : 0);

/**
 * The changes that bring `current` to `wanted`. A link whose label is not wanted is removed only when
 * `mayRemove(label)` says so (its label disappeared from the repository and env-labels selects it).
 */
export function planLinks(current: ReadonlyMap<string, string>, wanted: ReadonlyMap<string, WantedLink>, mayRemove: (label: string) => boolean): LinkChange[] {
  const changes: LinkChange[] = [];
  for (const [label, w] of [...wanted].sort(byLabel)) {
    const from = current.get(label);
    if (from !== w.deployedName) changes.push({ label, from, to: w.deployedName, tag: w.tag });
  }
  for (const [label, from] of [...current].sort(byLabel)) {
    if (!wanted.has(label) && mayRemove(label)) changes.push({ label, from });
  }
  return changes;
}

/** Points `<dir>/<label>` at `deployedName` atomically (temporary symlink renamed over the old). */
export async function switchLink(dir: string, label: string, deployedName: string): Promise<void> {
  if (!isLabelName(label)) throw new GitenvError(`label "${label}" is not a valid label name`);
  const link = path.join(dir, label);
  const stat = await fs.lstat(link).catch(() => undefined);
  if (stat && !stat.isSymbolicLink()) {
    throw new GitenvError(`cannot link label ${label}: ${link} exists and is not a symlink`);
  }
  const temp = path.join(dir, `${LINK_TEMP_PREFIX}${label}-${randomBytes(4).toString('hex')}`);
  await fs.symlink(deployedName, temp);
  try {
    await fs.rename(temp, link);
  } catch (err) {
    await fs.rm(temp, { force: true });
    throw err;
  }
}

/** Removes a label symlink (only ever a symlink). */
export async function removeLink(dir: string, label: string): Promise<void> {
  const link = path.join(dir, label);
  const stat = await fs.lstat(link).catch(() => undefined);
  if (stat?.isSymbolicLink()) await fs.unlink(link);
}

/** A planned change that could not be made, and why. */
export interface FailedLink {
  change: LinkChange;
  message: string;
}

/**
 * Applies planned changes, each on its own: one that cannot be made (a directory standing at the
 * label's path, a name too long for the file system) is returned in `failed` and the others are
 * still made. A link is only ever switched to a complete prefix: a change whose target is incomplete
 * is skipped and returned in `skipped`, leaving the label where it was.
 */
export async function applyLinks(dir: string, changes: readonly LinkChange[]): Promise<{ applied: LinkChange[]; skipped: LinkChange[]; failed: FailedLink[] }> {
  const applied: LinkChange[] = [];
  const skipped: LinkChange[] = [];
  const failed: FailedLink[] = [];
  for (const change of changes) {
    try {
      if (change.to === undefined) {
        await removeLink(dir, change.label);
        applied.push(change);
      } else if (await isComplete(path.join(dir, change.to), change.tag)) {
        await switchLink(dir, change.label, change.to);
        applied.push(change);
      } else {
        skipped.push(change);
      }
    } catch (err) {
      failed.push({ change, message: errorMessage(err) });
    }
  }
  return { applied, skipped, failed };
}
