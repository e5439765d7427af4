import { spawn } from 'node:child_process';
import { statSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { PackageError, tailLines } from '../util/errors.js';
import type { Logger } from '../util/logger.js';
import { activatedEnv } from './package-env.js';

export interface PostLinkPackage {
  name: string;
  version: string;
  buildNumber: number;
}

/** bin/.<name>-post-link.sh, conda's place for a package's post-link script. */
export function postLinkScript(name: string): string {
  return `bin/.${name}-post-link.sh`;
}

/** Where post-link scripts leave what the user should read (conda and rattler show it, then remove it). */
export const MESSAGES_FILE = '.messages.txt';

/**
 * Runs a package's post-link script when it has one, as conda (`activate=True`) and rattler do: sourced
 * by bash (sh without it) in the activated prefix (CONDA_PREFIX, bin/ first on PATH, every
 * `etc/conda/activate.d/*.sh` sourced first), so `return 0` ends it successfully, with PREFIX,
 * ROOT_PREFIX, PKG_NAME, PKG_VERSION and PKG_BUILDNUM set. Package code gets a clean environment
 * (package-env.ts): `env` is only where PATH, HOME and the locale are taken from, never passed whole.
 * `prefix` is where the files are now. A failing script fails the package, with its output.
 * Returns whether a script ran.
 */
export async function runPostLink(prefix: string, pkg: PostLinkPackage, env: NodeJS.ProcessEnv = process.env): Promise<boolean> {
  const script = path.join(prefix, postLinkScript(pkg.name));
  // One synchronous stat per package (most have no script): an awaited one each cost more than the stat.
  if (!statSync(script, { throwIfNoEntry: false })?.isFile()) return false;
  const shell = statSync('/bin/bash', { throwIfNoEntry: false }) ? '/bin/bash' : '/bin/sh';
  const vars = {
    ...activatedEnv(prefix, env),
    PREFIX: prefix,
    ROOT_PREFIX: prefix,
    PKG_NAME: pkg.name,
    PKG_VERSION: pkg.version,
    PKG_BUILDNUM: String(pkg.buildNumber),
  };
  const wrapper = [...(await activationScripts(prefix)), script].map((s) => `. ${shellQuote(s)}`).join('\n') + '\n';
  const { code, output } = await new Promise<{ code: number | null; output: string }>((resolve, reject) => {
    const child = spawn(shell, ['-c', wrapper, 'post-link'], { cwd: prefix, env: vars, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    child.on('error', reject);
    child.on('close', (c) => resolve({ code: c, output }));
  });
  if (code !== 0) {
    throw new PackageError(pkg.name, `post-link script ${postLinkScript(pkg.name)} failed (exit code ${code ?? 'signal'})` + (output.trim() ? `:\n${tailLines(output, 20)}` : ''));
  }
  return true;
}

/**
 * Every package's post-link script in `prefix`, in the order given (dependencies first), then what they
 * left in `.messages.txt`: logged, removed from the prefix, and returned (for the job summary) with how many scripts ran, as
 * conda and rattler show it. The first failing script fails its package.
 */
export async function runPostLinkScripts(
  prefix: string,
  packages: readonly PostLinkPackage[],
  logger: Pick<Logger, 'info'>,
  env: NodeJS.ProcessEnv = process.env,
): Promise<{ messages?: string; ran: number }> {
  let ran = 0;
  for (const pkg of packages) if (await runPostLink(prefix, pkg, env)) ran++;
  const messages = await takeMessages(prefix);
  // Each line behind "> ": package text must not start a line the runner reads as a workflow command (`::`).
  if (messages) logger.info(`Messages from the packages' post-link scripts:\n${messages.replace(/^/gm, '> ')}`);
  return { messages, ran };
}

/** `etc/conda/activate.d/*.sh` of the prefix, in the order conda sources them (sorted by name). */
async function activationScripts(prefix: string): Promise<string[]> {
  const dir = path.join(prefix, 'etc', 'conda', 'activate.d');
  const names = await fs.readdir(dir).catch(() => [] as string[]);
  const scripts: string[] = [];
  for (const name of names.filter((n) => n.endsWith('.sh')).sort()) {
    const file = path.join(dir, name);
    if (
      await fs.stat(file).then(
        (s) => s.isFile(),
        () => false,
      )
    )
      scripts.push(file);
  }
  return scripts;
}

/** Single-quoted for a POSIX shell: no character inside is interpreted. */
function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** What is shown of `.messages.txt` at most: a log line and a job summary are no place for more. */
export const MESSAGES_LIMIT = 64 * 1024;

/**
 * What the post-link scripts left in `<prefix>/.messages.txt` (its first MESSAGES_LIMIT bytes), and the
 * file removed from the prefix (it belongs to no package). Undefined when there is none, or it holds
 * only white space.
 */
export async function takeMessages(prefix: string): Promise<string | undefined> {
  const file = path.join(prefix, MESSAGES_FILE);
  const st = await fs.lstat(file).catch(() => undefined);
  if (!st) return undefined;
  let text = '';
  // Only a regular file is read: a link left there must not make gitenv read (and log) another file.
  if (st.isFile()) {
    const handle = await fs.open(file, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
    try {
      const buf = Buffer.alloc(Math.min(st.size, MESSAGES_LIMIT));
      const { bytesRead } = await handle.read(buf, 0, buf.length, 0);
      text = buf.subarray(0, bytesRead).toString('utf8');
      if (st.size > MESSAGES_LIMIT) text += `\n[… ${st.size - MESSAGES_LIMIT} more bytes not shown]`;
    } finally {
      await handle.close();
    }
  }
  await fs.rm(file, { force: true, recursive: true });
  return text.trim() ? text.replace(/\s+$/, '') : undefined;
}
