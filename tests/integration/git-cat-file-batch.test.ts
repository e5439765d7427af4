/**
 * The `git cat-file --batch` kept open for a phase's reads (src/git/cat-file-batch.ts), against a real
 * repository: the same answers as a git of their own, refs and objects fetched later seen, one process
 * for many reads, and a reader that dies replaced by one-off reads.
 */
import { execFileSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CatFileBatch } from '../../src/git/cat-file-batch.js';
import { GitCommandManager } from '../../src/git/git-command-manager.js';
import { MemoryLogger } from '../../src/util/logger.js';

let root: string;
let origin: string;

const git = (dir: string, ...args: string[]) =>
  execFileSync('git', ['-C', dir, ...args], { encoding: 'utf8', env: { ...process.env, GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@t', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@t' } }).trim();

async function commit(work: string, files: Record<string, string | Buffer>, message: string): Promise<string> {
  for (const [name, content] of Object.entries(files)) {
    await fs.mkdir(path.dirname(path.join(work, name)), { recursive: true });
    await fs.writeFile(path.join(work, name), content);
  }
  git(work, 'add', '-A');
  git(work, 'commit', '-q', '-m', message);
  git(work, 'push', '-q', 'origin', 'HEAD:refs/heads/main');
  return git(work, 'rev-parse', 'HEAD');
}

/** The pids of the `git --git-dir <gitDir> cat-file --batch` processes running (from /proc). */
async function readersOf(gitDir: string): Promise<number[]> {
  const pids: number[] = [];
  for (const name of await fs.readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const argv = (await fs.readFile(`/proc/${name}/cmdline`, 'utf8').catch(() => '')).split('\0');
    if (argv.includes(gitDir) && argv.includes('cat-file') && argv.includes('--batch')) pids.push(Number(name));
  }
  return pids;
}

beforeEach(async () => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), 'gitenv-catfile-'));
  origin = path.join(root, 'origin.git');
  execFileSync('git', ['init', '-q', '--bare', origin]);
  execFileSync('git', ['clone', '-q', origin, path.join(root, 'work')], { stdio: 'ignore' });
});
afterEach(async () => {
  await fs.rm(root, { recursive: true, force: true });
});

test('many reads through one process: blobs (binary and empty included), trees, missing names; later fetches are seen', async () => {
  const work = path.join(root, 'work');
  const binary = Buffer.from([0, 10, 13, 255, 10, 0, 1]);
  const big = Buffer.alloc(3 << 20, 'x'); // more than one pipe read
  await commit(work, { 'env.spec': 'name: a\n', 'bin.dat': binary, 'empty.txt': '', 'big.txt': big, 'd/e.txt': 'e\n' }, 'one');
  const logger = new MemoryLogger();
  const mgr = await GitCommandManager.create(path.join(root, 'clone.git'), { logger });
  await mgr.init();
  await mgr.fetch(origin, ['+refs/heads/*:refs/heads/*']);
  try {
    const first = await mgr.readObjects(['main:env.spec', 'main:bin.dat', 'main:nothing', 'main:empty.txt', 'main:d', 'main:big.txt']);
    expect(first.get('main:env.spec')?.data.toString()).toBe('name: a\n');
    expect(first.get('main:bin.dat')?.data.equals(binary)).toBe(true);
    expect(first.get('main:nothing')).toBeUndefined();
    expect(first.get('main:empty.txt')?.data.length).toBe(0);
    expect(first.get('main:d')?.type).toBe('tree');
    expect(first.get('main:big.txt')?.data.equals(big)).toBe(true);
    // Many reads, one after another and at once: one process for all of them.
    const again = await Promise.all([mgr.readBlobs(['main:env.spec']), mgr.readBlobs(['main:d/e.txt', 'main:env.spec'])]);
    expect(again[0].get('main:env.spec')?.toString()).toBe('name: a\n');
    expect(again[1].get('main:d/e.txt')?.toString()).toBe('e\n');
    expect(logger.lines('debug').filter((l) => l.startsWith('git cat-file')).length).toBe(1);
    // A name with a line break (a path from repository data) names nothing, and shifts no other answer.
    const hostile = await mgr.readBlobs(['main:env.spec\nmain:d/e.txt', 'main:d/e.txt', 'main:x\r', 'main:env.spec']);
    expect([...hostile.values()].map((b) => b?.toString())).toEqual([undefined, 'e\n', undefined, 'name: a\n']);
    expect(logger.lines('debug').filter((l) => l.startsWith('git cat-file')).length).toBe(1);

    // A new commit fetched: the fetch ends the reader, the next read sees the new ref.
    await commit(work, { 'env.spec': 'name: b\n' }, 'two');
    await mgr.fetch(origin, ['+refs/heads/*:refs/heads/*']);
    expect((await mgr.readBlobs(['main:env.spec'])).get('main:env.spec')?.toString()).toBe('name: b\n');
    expect(logger.lines('debug').filter((l) => l.startsWith('git cat-file')).length).toBe(2);
  } finally {
    mgr.closeBatch();
  }
});

test('a reader that dies gives way to one-off reads; a closed or failed reader refuses reads', async () => {
  const work = path.join(root, 'work');
  await commit(work, { 'env.spec': 'name: a\n' }, 'one');
  const logger = new MemoryLogger();
  const mgr = await GitCommandManager.create(path.join(root, 'clone.git'), { logger });
  await mgr.init();
  await mgr.fetch(origin, ['+refs/heads/*:refs/heads/*']);
  try {
    expect((await mgr.readBlobs(['main:env.spec'])).get('main:env.spec')?.toString()).toBe('name: a\n');
    // Kill the reader behind the manager's back.
    const pids = await readersOf(path.join(root, 'clone.git'));
    expect(pids.length).toBe(1);
    for (const pid of pids) process.kill(pid, 'SIGKILL');
    await new Promise((r) => setTimeout(r, 100));
    expect((await mgr.readBlobs(['main:env.spec'])).get('main:env.spec')?.toString()).toBe('name: a\n');
  } finally {
    mgr.closeBatch();
  }

  const batch = new CatFileBatch('git', path.join(root, 'clone.git'), process.env);
  expect((await batch.read(['main:env.spec'])).get('main:env.spec')?.data.toString()).toBe('name: a\n');
  await expect(batch.read(['main:env\nspec'])).rejects.toThrow(/line break/);
  batch.close();
  await expect(batch.read(['main:env.spec'])).rejects.toThrow(/closed/);
  const nowhere = new CatFileBatch('git', path.join(root, 'no-such.git'), process.env);
  await expect(nowhere.read(['main:env.spec'])).rejects.toThrow(/exited/);
});
