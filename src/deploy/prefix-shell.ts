/**
 * A shell "in" a deployed prefix, as a user who activated it has one: its `bin` first on `PATH`,
 * `CONDA_PREFIX` set, the packages' activation scripts (`etc/conda/activate.d/*.sh`) sourced. Smoke
 * tests run in it, and the variables those scripts export are read from it for the modulefiles.
 *
 * Package code and test commands never see gitenv's or the runner's secrets: the shell starts from
 * a handful of the runner's variables (PATH, HOME, the locale), not from its environment.
 */
import { spawn } from 'node:child_process';
import * as path from 'node:path';

/** What a prefix shell inherits from the runner: nothing that could carry a secret. */
const KEPT = ['PATH', 'HOME', 'USER', 'LOGNAME', 'LANG', 'LC_ALL', 'LC_CTYPE', 'TZ', 'TERM'];

/** Sources every activation script of `$CONDA_PREFIX`, in name order (conda's). */
export const SOURCE_ACTIVATION = 'for __gitenv_f in "$CONDA_PREFIX"/etc/conda/activate.d/*.sh; do [ -f "$__gitenv_f" ] && . "$__gitenv_f"; done; unset __gitenv_f\n';

export function prefixEnv(prefix: string, base: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const name of KEPT) if (base[name] !== undefined) env[name] = base[name];
  env.PATH = `${path.join(prefix, 'bin')}${path.delimiter}${base.PATH ?? '/usr/bin:/bin'}`;
  env.CONDA_PREFIX = prefix;
  env.CONDA_DEFAULT_ENV = prefix;
  env.CONDA_SHLVL = '1';
  return env;
}

export interface ShellRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  timedOut: boolean;
  /** stdout and stderr as they came, capped at the last `maxOutput` bytes. */
  output: string;
}

export interface ShellOptions {
  cwd: string;
  env: NodeJS.ProcessEnv;
  timeoutMs?: number;
  maxOutput?: number;
  /** Keep stdout apart (activation capture); default merged into output. */
  stdout?: (chunk: Buffer) => void;
}

/**
 * Runs `bash -c <script> gitenv <args...>` (never a command line built from strings: the user's
 * command is `$1`). On timeout the whole process group is killed, children included.
 */
export function runBash(script: string, args: string[], options: ShellOptions): Promise<ShellRun> {
  const maxOutput = options.maxOutput ?? 64 * 1024;
  return new Promise((resolve, reject) => {
    const child = spawn('bash', ['--noprofile', '--norc', '-c', script, 'gitenv', ...args], {
      cwd: options.cwd,
      env: options.env,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    let output = '';
    let timedOut = false;
    const keep = (d: Buffer) => {
      output += d.toString();
      if (output.length > 2 * maxOutput) output = output.slice(-maxOutput);
    };
    child.stdout.on('data', options.stdout ?? keep);
    child.stderr.on('data', keep);
    const timer =
      options.timeoutMs === undefined
        ? undefined
        : setTimeout(() => {
            timedOut = true;
            killGroup(child.pid);
          }, options.timeoutMs);
    child.on('error', (err) => {
      if (timer) clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code, signal) => {
      if (timer) clearTimeout(timer);
      // A test that left a background child behind must not outlive the deploy.
      killGroup(child.pid);
      resolve({ code, signal, timedOut, output: output.slice(-maxOutput) });
    });
  });
}

function killGroup(pid: number | undefined): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // already gone
  }
}
