/**
 * The temporary clones of the environments repository (`<workDir>/gitenv-repo-*`) that killed runs
 * left behind. Each clone holds a small owner file (host, pid); a clone is swept when it is older
 * than an hour and its owner is gone: a process of this host that no longer runs, or (no owner file,
 * or another host's) after a day. A live run's clone is never touched, however long the run.
 */
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Logger } from '../util/logger.js';
import { isAlive } from '../util/process.js';

export const CLONE_PREFIX = 'gitenv-repo-';
const OWNER_FILE = 'gitenv-owner.json';
const HOUR = 3_600_000;

interface Owner {
  host: string;
  pid: number;
}

/** Records this process as the owner of the clone directory `dir`. */
export async function writeCloneOwner(dir: string): Promise<void> {
  const owner: Owner = { host: os.hostname(), pid: process.pid };
  await fs.writeFile(path.join(dir, OWNER_FILE), JSON.stringify(owner) + '\n');
}

/** Removes the old clones of dead runs from `base` (the work directory clones are made in). */
export async function sweepOldClones(base: string, logger?: Logger, olderThanMs = HOUR): Promise<string[]> {
  const names = await fs.readdir(base).catch(() => [] as string[]);
  const removed: string[] = [];
  const now = Date.now();
  for (const name of names) {
    if (!name.startsWith(CLONE_PREFIX)) continue;
    const dir = path.join(base, name);
    const st = await fs.lstat(dir).catch(() => undefined);
    if (!st?.isDirectory() || st.uid !== process.getuid?.() || now - st.mtimeMs < olderThanMs) continue;
    const owner = await readOwner(dir);
    const gone = owner && owner.host === os.hostname() ? !isAlive(owner.pid) : now - st.mtimeMs >= 24 * HOUR;
    if (!gone) continue;
    await fs.rm(dir, { recursive: true, force: true }).catch(() => undefined);
    removed.push(dir);
    logger?.info(`Removed ${dir}, a temporary clone left by an interrupted run`);
  }
  return removed;
}

async function readOwner(dir: string): Promise<Owner | undefined> {
  try {
    const o = JSON.parse(await fs.readFile(path.join(dir, OWNER_FILE), 'utf8')) as Owner;
    return typeof o.host === 'string' && Number.isInteger(o.pid) ? o : undefined;
  } catch {
    return undefined;
  }
}
