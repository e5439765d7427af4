/**
 * Prune (opt-in): removes deployed prefixes of an environment that no label points to, keeping the
 * newest `keep` of them. A prefix any symlink in the environment directory points to is never a
 * candidate, whether or not the repository or env-labels still name that label.
 */
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { compareDeployedNames, listDeployedNames, moveToTrash } from './layout.js';

export const DEFAULT_KEEP = 2;

export interface PruneCandidate {
  deployedName: string;
  prefix: string;
  /** Bytes the removal frees: files whose only link is in this prefix (package-cache hard links free nothing). */
  bytes: number;
}

/**
 * Picks what to prune. `protectedNames` are deployed names something points to (every label symlink
 * on disk plus every label about to be linked); `deployed` are the prefixes present, in any order.
 */
export function choosePrunable(deployed: readonly string[], protectedNames: ReadonlySet<string>, keep: number): string[] {
  const unlabelled = deployed.filter((n) => !protectedNames.has(n)).sort(compareDeployedNames);
  return unlabelled.slice(0, Math.max(0, unlabelled.length - keep));
}

/** What prune would remove from `dir`, with the bytes each removal frees. */
export async function planPrune(dir: string, protectedNames: ReadonlySet<string>, keep: number): Promise<PruneCandidate[]> {
  const names = choosePrunable(await listDeployedNames(dir), protectedNames, keep);
  const candidates: PruneCandidate[] = [];
  for (const deployedName of names) {
    const prefix = path.join(dir, deployedName);
    candidates.push({ deployedName, prefix, bytes: await freedBytes(prefix) });
  }
  return candidates;
}

/**
 * Removes the candidates: each is first renamed to a hidden trash name (atomic, so no half-removed
 * prefix stands under its final name), then deleted. `stillProtected` is asked again right before, so
 * a label that appeared meanwhile saves its prefix.
 */
export async function applyPrune(candidates: readonly PruneCandidate[], stillProtected: (deployedName: string) => Promise<boolean>): Promise<PruneCandidate[]> {
  const removed: PruneCandidate[] = [];
  for (const c of candidates) {
    if (await stillProtected(c.deployedName)) continue;
    const trash = await moveToTrash(c.prefix);
    await fs.rm(trash, { recursive: true, force: true });
    removed.push(c);
  }
  return removed;
}

/** Bytes of the regular files in a tree that have no other hard link (what deleting it gives back). */
export async function freedBytes(dir: string): Promise<number> {
  let total = 0;
  let entries: import('node:fs').Dirent[];
  try {
    entries = await fs.readdir(dir, { withFileTypes: true });
  } catch {
    return 0;
  }
  for (const entry of entries) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      total += await freedBytes(p);
    } else {
      const st = await fs.lstat(p);
      if (!st.isFile() || st.nlink <= 1) total += st.size;
    }
  }
  return total;
}

/** `1.2 GB`-style size for logs and the summary. */
export function formatBytes(bytes: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  return unit === 0 ? `${bytes} B` : `${value.toFixed(1)} ${units[unit]}`;
}
