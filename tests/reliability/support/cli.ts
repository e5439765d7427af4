/**
 * The CLI bundle as GitHub and users run it (`node <bundle> deploy ...`), built once per source state
 * into a temporary directory of its own (never over the committed dist/, which others rebuild), and a
 * runner for it that can preload the kill hook.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

export const ROOT = path.resolve('.');
const KILL_HOOK = path.join(ROOT, 'tests', 'reliability', 'kill-hook.mjs');

/** A key that changes whenever a file under src/ changes (path, size, mtime), and the newest mtime. */
function sourceState(): { key: string; newest: number } {
  const hash = createHash('sha256');
  let newest = 0;
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir).sort()) {
      const p = path.join(dir, name);
      const st = statSync(p);
      if (st.isDirectory()) walk(p);
      else {
        hash.update(`${path.relative(ROOT, p)} ${st.size} ${st.mtimeMs}\n`);
        newest = Math.max(newest, st.mtimeMs);
      }
    }
  };
  walk(path.join(ROOT, 'src'));
  walk(path.join(ROOT, 'node_modules', '@conda-org'));
  return { key: hash.digest('hex').slice(0, 16), newest };
}

/**
 * The CLI bundle for the current sources. In CI (.ci/run builds dist/ first, and nothing else writes
 * it meanwhile) the committed-to-be dist/cli is used when newer than every source file; otherwise the
 * bundle is built (ncc, as scripts/build.mjs does) into a temporary directory per source state.
 */
export function ensureCli(): string {
  const { key, newest } = sourceState();
  const dist = path.join(ROOT, 'dist', 'cli', 'index.js');
  if (process.env.CI === 'true' && existsSync(dist) && statSync(dist).mtimeMs > newest) return dist;
  const out = path.join(os.tmpdir(), `gitenv-reliability-cli-${key}`);
  const bundle = path.join(out, 'index.js');
  if (!existsSync(bundle)) {
    const tmp = `${out}.building-${process.pid}`;
    execFileSync(process.execPath, ['node_modules/@vercel/ncc/dist/ncc/cli.js', 'build', 'src/entries/cli.ts', '-o', tmp, '-q'], {
      cwd: ROOT,
      stdio: 'inherit',
    });
    try {
      execFileSync('mv', ['-T', tmp, out]);
    } catch {
      // another test file built the same state at the same time: theirs is as good
      rmSync(tmp, { recursive: true, force: true });
    }
    removeOldBundles(out);
  }
  return bundle;
}

/** Bundles of earlier source states, an hour old or more (a run in progress uses a fresh one). */
function removeOldBundles(keep: string): void {
  const dir = path.dirname(keep);
  for (const name of readdirSync(dir)) {
    const p = path.join(dir, name);
    if (!name.startsWith('gitenv-reliability-cli-') || p === keep) continue;
    if (Date.now() - statSync(p).mtimeMs > 3_600_000) rmSync(p, { recursive: true, force: true });
  }
}

export interface KillPoint {
  op: string;
  match: string;
  n: number;
  when: 'before' | 'after' | 'stop';
}

export interface RunOptions {
  env?: NodeJS.ProcessEnv;
  /** Working directory of the child (default: this process's). */
  cwd?: string;
  killAt?: KillPoint;
}

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  out: string;
}

export interface Running {
  child: ChildProcess;
  done: Promise<RunResult>;
}

/** Starts `gitenv <args>` from the bundle; output (stdout and stderr) collected. */
export function startCli(bundle: string, args: string[], options: RunOptions = {}): Running {
  const preload = options.killAt ? ['--import', pathToFileURL(KILL_HOOK).href] : [];
  const env: NodeJS.ProcessEnv = { ...process.env, RUNNER_TEMP: '', GITENV_DEBUG: '', GITHUB_ACTIONS: '', ...options.env };
  if (options.killAt) env.GITENV_RELIABILITY_KILL_AT = JSON.stringify(options.killAt);
  const child = spawn(process.execPath, [...preload, bundle, ...args], { env, cwd: options.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout?.on('data', (d) => (out += d));
  child.stderr?.on('data', (d) => (out += d));
  const done = new Promise<RunResult>((resolve) => child.on('close', (code, signal) => resolve({ code, signal, out })));
  return { child, done };
}

export function runCli(bundle: string, args: string[], options: RunOptions = {}): Promise<RunResult> {
  return startCli(bundle, args, options).done;
}

/** Runs the CLI and throws with its output unless it exits 0. */
export async function runCliOk(bundle: string, args: string[], options: RunOptions = {}): Promise<string> {
  const r = await runCli(bundle, args, options);
  if (r.code !== 0) throw new Error(`gitenv ${args.join(' ')} exited ${r.code ?? r.signal}:\n${r.out}`);
  return r.out;
}

export async function waitFor(cond: () => boolean | Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const start = Date.now();
  while (!(await cond())) {
    if (Date.now() - start > timeoutMs) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 20));
  }
}
