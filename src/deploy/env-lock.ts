/**
 * One lock per environment directory, safe on NFS: proper-lockfile takes it with mkdir (atomic on
 * every file system gitenv targets) and keeps its mtime fresh while held; a lock whose mtime stops
 * moving is stale and taken over. Beside it a small holder file says who holds it (host, pid, time),
 * so a waiting deploy can say whom it waits for, and a lock held by a dead process on this very host
 * is recovered at once instead of after the stale period.
 */
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import lockfile from 'proper-lockfile';
import { sleep } from '../net/retry.js';
import { errorMessage, GitenvError } from '../util/errors.js';
import type { Logger } from '../util/logger.js';
import { isAlive } from '../util/process.js';

const LOCK_NAME = '.gitenv.lock';
const HOLDER_NAME = '.gitenv.lock.holder';

export interface LockHolder {
  host: string;
  pid: number;
  /** ISO time the lock was taken. */
  since: string;
  /** Tells this holding apart from an earlier one by the same pid. */
  token: string;
}

export interface EnvLockOptions {
  logger: Logger;
  /** Give up after waiting this long (ms); default 30 minutes: an install can take a while. */
  timeoutMs?: number;
  /** A lock whose mtime is older than this is stale (ms, min 2000); default 60 s, refreshed every half of it. */
  staleMs?: number;
  /** Pause between attempts (ms); default 500. */
  pollMs?: number;
  /** Log who holds the lock again after this long (ms); default 60 s. */
  reportEveryMs?: number;
}

/** A held lock. `compromised` is set when another process took it over (we stalled past stale). */
export interface EnvLock {
  readonly dir: string;
  readonly holder: LockHolder;
  readonly compromised?: Error;
  release(): Promise<void>;
}

export function lockPath(dir: string): string {
  return path.join(dir, LOCK_NAME);
}

export function holderPath(dir: string): string {
  return path.join(dir, HOLDER_NAME);
}

/** Takes the lock on `dir` (created if missing), waiting up to `timeoutMs` while someone holds it. */
export async function acquireEnvLock(dir: string, options: EnvLockOptions): Promise<EnvLock> {
  const { logger, timeoutMs = 30 * 60_000, staleMs = 60_000, pollMs = 500, reportEveryMs = 60_000 } = options;
  await fs.mkdir(dir, { recursive: true });
  const started = Date.now();
  let lastReport = -Infinity;
  for (;;) {
    const lock = await tryLock(dir, staleMs);
    if (lock) return lock;
    const holder = await readHolder(dir);
    if (holder && (await recoverFromDeadHolder(dir, holder, logger))) continue;
    const waited = Date.now() - started;
    if (waited >= timeoutMs) {
      throw new GitenvError(`gave up after ${Math.round(waited / 1000)} s waiting for the lock on ${dir}, held by ${describe(holder)}`);
    }
    if (Date.now() - lastReport >= reportEveryMs) {
      logger.info(`Waiting for the lock on ${dir}, held by ${describe(holder)}`);
      lastReport = Date.now();
    }
    await sleep(pollMs);
  }
}

async function tryLock(dir: string, staleMs: number): Promise<EnvLock | undefined> {
  const holder: LockHolder = {
    host: os.hostname(),
    pid: process.pid,
    since: new Date().toISOString(),
    token: randomBytes(8).toString('hex'),
  };
  const state: { compromised?: Error } = {};
  let release: () => Promise<void>;
  try {
    release = await lockfile.lock(dir, {
      lockfilePath: lockPath(dir),
      realpath: false,
      stale: staleMs,
      retries: 0,
      // proper-lockfile's default throws from a timer; the holder checks `compromised` instead.
      onCompromised: (err) => {
        state.compromised = err;
      },
    });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ELOCKED') return undefined;
    throw new GitenvError(`cannot lock ${dir}: ${errorMessage(err)}`, { cause: err });
  }
  await writeHolder(dir, holder);
  return {
    dir,
    holder,
    get compromised() {
      return state.compromised;
    },
    release: async () => {
      const current = await readHolder(dir);
      if (current?.token === holder.token) await fs.rm(holderPath(dir), { force: true });
      await release().catch(() => undefined);
    },
  };
}

/** Reads the holder file; undefined when there is none or it is being written. */
export async function readHolder(dir: string): Promise<LockHolder | undefined> {
  try {
    return JSON.parse(await fs.readFile(holderPath(dir), 'utf8')) as LockHolder;
  } catch {
    return undefined;
  }
}

async function writeHolder(dir: string, holder: LockHolder): Promise<void> {
  const temp = `${holderPath(dir)}.${holder.token}`;
  await fs.writeFile(temp, JSON.stringify(holder) + '\n');
  await fs.rename(temp, holderPath(dir));
}

/**
 * When the holder is a process of this host that no longer exists (SIGKILL, OOM), removes its lock.
 * Renaming the holder file away is the claim: of several waiters only one can rename it, so only one
 * removes the dead lock, and a lock someone took meanwhile (with a new holder file) is left alone.
 */
async function recoverFromDeadHolder(dir: string, holder: LockHolder, logger: Logger): Promise<boolean> {
  if (holder.host !== os.hostname() || isAlive(holder.pid)) return false;
  const claimed = `${holderPath(dir)}.recovering-${randomBytes(4).toString('hex')}`;
  try {
    await fs.rename(holderPath(dir), claimed);
  } catch {
    return false;
  }
  try {
    const taken = JSON.parse(await fs.readFile(claimed, 'utf8')) as LockHolder;
    if (taken.token !== holder.token) {
      // A new holder wrote its file between our two reads: put it back untouched.
      await fs.rename(claimed, holderPath(dir));
      return false;
    }
    logger.warning(`Recovering the lock on ${dir}: its holder (pid ${holder.pid} on ${holder.host}) is gone`);
    await fs.rmdir(lockPath(dir)).catch(() => undefined);
    return true;
  } finally {
    await fs.rm(claimed, { force: true });
  }
}

function describe(holder: LockHolder | undefined): string {
  return holder ? `pid ${holder.pid} on ${holder.host} since ${holder.since}` : 'another deploy (no holder information yet)';
}

/** Runs `fn` holding the lock on `dir`; fails if the lock was taken over meanwhile. */
export async function withEnvLock<T>(dir: string, options: EnvLockOptions, fn: (lock: EnvLock) => Promise<T>): Promise<T> {
  const lock = await acquireEnvLock(dir, options);
  try {
    const result = await fn(lock);
    if (lock.compromised) throw new GitenvError(`the lock on ${dir} was taken over while held: ${lock.compromised.message}`);
    return result;
  } finally {
    await lock.release();
  }
}
