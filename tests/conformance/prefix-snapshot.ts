/** A prefix described file by file, so two installs of one environment can be compared. */
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { replaceText } from '../../src/installer/prefix-replace.js';

export interface PathFacts {
  type: 'file' | 'symlink' | 'directory';
  /** Permission bits. */
  mode: number;
  /** Soft link target. */
  target?: string;
  /** File content with the prefix's own path replaced by `<PREFIX>`. */
  content?: Buffer;
  ino: number;
  /** Hard links to this inode (more than 1: linked from the package cache, or a package's own hard link). */
  nlink: number;
}

/** Every path under `root` (relative, `/`-separated), skipping the names in `skip`. */
export async function snapshotPrefix(root: string, skip: (rel: string) => boolean = () => false): Promise<Map<string, PathFacts>> {
  const out = new Map<string, PathFacts>();
  const walk = async (dir: string): Promise<void> => {
    for (const name of await fs.readdir(dir)) {
      const full = path.join(dir, name);
      const rel = path.relative(root, full).split(path.sep).join('/');
      if (skip(rel)) continue;
      const st = await fs.lstat(full);
      const facts: PathFacts = { type: 'file', mode: st.mode & 0o7777, ino: st.ino, nlink: st.nlink };
      if (st.isSymbolicLink()) {
        facts.type = 'symlink';
        facts.target = await fs.readlink(full);
      } else if (st.isDirectory()) {
        facts.type = 'directory';
        await walk(full);
      } else {
        facts.content = neutralise(await fs.readFile(full), root);
      }
      out.set(rel, facts);
    }
  };
  await walk(root);
  return out;
}

/** Replaces `prefix` by `<PREFIX>`; a binary-padded string's NUL run is kept as the placeholder's. */
export function neutralise(data: Buffer, prefix: string): Buffer {
  return replaceText(data, Buffer.from(prefix), Buffer.from('<PREFIX>'));
}

/** Runs a command and resolves with its stdout (rejects with stderr on failure). */
export function run(cmd: string, args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { ...options, maxBuffer: 64 << 20 }, (err, stdout, stderr) =>
      err ? reject(new Error(`${cmd} ${args.join(' ')}: exit code ${String((err as { code?: unknown }).code)}, signal ${String(err.signal)}\n${stderr}${stdout}`)) : resolve(stdout),
    );
  });
}

/** True when python3 can import py-rattler. */
export async function hasPyRattler(): Promise<boolean> {
  try {
    await run('python3', ['-c', 'import rattler']);
    return true;
  } catch {
    return false;
  }
}

export interface RattlerRun {
  /** The install itself, timed inside python. */
  seconds: number;
  /** User + system CPU time of the install (all threads): what a loaded machine disturbs least. */
  cpuSeconds: number;
  /** Peak resident memory of the python process. */
  maxRssKb: number;
}

/** Installs `packages` with py-rattler (tests/conformance/rattler_install.py). */
export async function rattlerInstall(
  packages: { channel: string; subdir: string; fn: string; dir?: string }[],
  prefix: string,
  cache: string,
  scratch: string,
  /** A retry starts from an empty cache too (a cold install stays cold), unless this is false. */
  retryWithEmptyCache = true,
  /** The platform py-rattler installs for. */
  platform = 'linux-64',
): Promise<RattlerRun> {
  const request = path.join(scratch, `rattler-request-${Date.now()}-${Math.random().toString(16).slice(2)}.json`);
  await fs.writeFile(request, JSON.stringify({ prefix, cache, platform, packages: packages.map(({ channel, subdir, fn, dir }) => ({ channel, subdir, fn, dir })) }));
  const script = path.join(path.dirname(fileURLToPath(import.meta.url)), 'rattler_install.py');
  let out: string;
  try {
    out = await run('python3', [script, request]);
  } catch (err) {
    // Seen on a loaded machine: python dying on a signal (SIGABRT). When it had finished and printed
    // its result, that is the result; otherwise one more try from an empty prefix and cache.
    const message = (err as Error).message;
    if (!/signal SIG/.test(message)) throw err;
    const printed = /^\{"seconds".*\}$/m.exec(message)?.[0];
    if (printed) {
      console.warn(`py-rattler died after finishing (${message.split('\n')[0]}); its result is kept`);
      out = printed;
    } else {
      console.warn(`py-rattler died (${message.split('\n')[0]}); trying once more`);
      await fs.rm(prefix, { recursive: true, force: true });
      if (retryWithEmptyCache) await fs.rm(cache, { recursive: true, force: true });
      out = await run('python3', [script, request]);
    }
  }
  await fs.rm(request, { force: true });
  const result = JSON.parse(out.trim().split('\n').pop() as string) as { seconds: number; cpu_seconds: number; max_rss_kb: number };
  return { seconds: result.seconds, cpuSeconds: result.cpu_seconds, maxRssKb: result.max_rss_kb };
}
