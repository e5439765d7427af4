/**
 * The CLI bundle as GitHub and users run it (`node <bundle> deploy ...`), built once per source state
 * into a temporary directory of its own (never over the committed dist/, which others rebuild), and a
 * runner for it that can preload the kill hook.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { STAMP, sourceHash } from '../../../scripts/source-hash.mjs';

export const ROOT = path.resolve('.');
const KILL_HOOK = path.join(ROOT, 'tests', 'reliability', 'kill-hook.mjs');

/**
 * The CLI bundle for the current sources: the committed dist/cli when its stamp is their content
 * hash (CI builds dist/ first), else a build (scripts/build.mjs --out) into a temporary directory
 * per source state.
 */
export function ensureCli(): string {
  const hash = sourceHash(ROOT);
  const dist = path.join(ROOT, 'dist', 'cli');
  if (existsSync(path.join(dist, STAMP)) && readFileSync(path.join(dist, STAMP), 'utf8').trim() === hash) return path.join(dist, 'index.js');
  const out = path.join(os.tmpdir(), `gitenv-reliability-cli-${hash.slice(0, 16)}`);
  const bundle = path.join(out, 'cli', 'index.js');
  if (!existsSync(bundle)) {
    const tmp = `${out}.building-${process.pid}`;
    execFileSync(process.execPath, ['scripts/build.mjs', '--out', tmp, 'cli', 'extract-worker'], { cwd: ROOT, stdio: 'inherit' });
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
