import { spawnSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { acquireEnvLock, holderPath, lockPath, readHolder, withEnvLock } from '../../src/deploy/env-lock.js';
import { MemoryLogger } from '../../src/util/logger.js';

let dir: string;
beforeEach(async () => {
  dir = path.join(await fs.mkdtemp(path.join(os.tmpdir(), 'gitenv lock ')), 'env');
});
afterEach(async () => {
  await fs.rm(path.dirname(dir), { recursive: true, force: true });
});

test('the holder is recorded while held and cleared on release', async () => {
  const logger = new MemoryLogger();
  const lock = await acquireEnvLock(dir, { logger });
  const holder = await readHolder(dir);
  expect(holder).toMatchObject({ host: os.hostname(), pid: process.pid });
  expect(holder?.token).toBe(lock.holder.token);
  await lock.release();
  await expect(fs.access(lockPath(dir))).rejects.toThrow();
  await expect(fs.access(holderPath(dir))).rejects.toThrow();
});

test('a second taker waits, says who holds the lock, and gets it once released', async () => {
  const logger = new MemoryLogger();
  const order: string[] = [];
  const first = await acquireEnvLock(dir, { logger });
  const second = withEnvLock(dir, { logger, pollMs: 20 }, async () => {
    order.push('second');
  });
  await new Promise((r) => setTimeout(r, 200));
  order.push('first released');
  await first.release();
  await second;
  expect(order).toEqual(['first released', 'second']);
  expect(logger.lines('info').some((l) => l.includes(`held by pid ${process.pid} on ${os.hostname()}`))).toBe(true);
});

test('waiting is bounded and the error names the holder', async () => {
  const logger = new MemoryLogger();
  const first = await acquireEnvLock(dir, { logger });
  await expect(acquireEnvLock(dir, { logger, timeoutMs: 100, pollMs: 20 })).rejects.toThrow(/gave up .* held by pid/);
  await first.release();
});

test('a lock whose holder process is dead is recovered at once', async () => {
  const dead = spawnSync(process.execPath, ['-e', '0']).pid as number;
  await fs.mkdir(lockPath(dir), { recursive: true });
  await fs.writeFile(holderPath(dir), JSON.stringify({ host: os.hostname(), pid: dead, since: new Date().toISOString(), token: 'dead' }));
  const logger = new MemoryLogger();
  const lock = await acquireEnvLock(dir, { logger, timeoutMs: 5000, pollMs: 20 });
  expect(logger.lines('warning').join('\n')).toMatch(/holder \(pid \d+ .*\) is gone/);
  await lock.release();
});

test('a lock left without holder information is taken over once its mtime is stale', async () => {
  await fs.mkdir(lockPath(dir), { recursive: true });
  const old = new Date(Date.now() - 3600_000);
  await fs.utimes(lockPath(dir), old, old);
  const logger = new MemoryLogger();
  const lock = await acquireEnvLock(dir, { logger, timeoutMs: 5000, staleMs: 2000 });
  // Taken over: the holder recorded is this process, and releasing removes the lock.
  expect(await readHolder(dir)).toMatchObject({ host: os.hostname(), pid: process.pid, token: lock.holder.token });
  await lock.release();
  await expect(fs.access(lockPath(dir))).rejects.toThrow();
});

test('a lock left without holder information but a fresh mtime is not taken', async () => {
  await fs.mkdir(lockPath(dir), { recursive: true });
  await expect(acquireEnvLock(dir, { logger: new MemoryLogger(), timeoutMs: 300, pollMs: 20, staleMs: 60_000 })).rejects.toThrow(/gave up/);
  await expect(fs.access(lockPath(dir))).resolves.toBeUndefined();
});
