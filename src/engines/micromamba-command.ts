/**
 * Running micromamba: an argument array (never a shell string), an explicit environment, and a
 * CommandError carrying micromamba's stderr tail when it fails.
 */
import { spawn } from 'node:child_process';
import { CommandError, tailLines } from '../util/errors.js';

export interface CommandOutput {
  stdout: string;
  stderr: string;
  exitCode: number | null;
}

export interface RunOptions {
  env: NodeJS.ProcessEnv;
  cwd?: string;
  /** Return a failed run instead of throwing (the caller reads micromamba's JSON error first). */
  allowFailure?: boolean;
  /** A one-line summary for the error (default: the command line). */
  summary?: string;
}

export async function runMicromamba(exe: string, args: string[], options: RunOptions): Promise<CommandOutput> {
  const out = await new Promise<CommandOutput>((resolve, reject) => {
    const child = spawn(exe, args, { env: options.env, cwd: options.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => stdout.push(b));
    child.stderr.on('data', (b: Buffer) => stderr.push(b));
    child.on('error', (err) => reject(new CommandError(exe, args, null, err.message, `Could not run ${exe}`)));
    child.on('close', (code) => resolve({ stdout: Buffer.concat(stdout).toString('utf8'), stderr: Buffer.concat(stderr).toString('utf8'), exitCode: code }));
  });
  if (out.exitCode !== 0 && !options.allowFailure) {
    throw new CommandError(exe, args, out.exitCode, tailLines(out.stderr || out.stdout), options.summary);
  }
  return out;
}

export interface MicromambaVersion {
  major: number;
  minor: number;
  patch: number;
  /** What `micromamba --version` printed (trimmed). */
  text: string;
}

/** Parses `micromamba --version` output ("2.3.3", possibly with a suffix). */
export function parseMicromambaVersion(output: string): MicromambaVersion | undefined {
  const text = output.trim().split(/\r?\n/).pop()?.trim() ?? '';
  const m = /(\d+)\.(\d+)\.(\d+)/.exec(text);
  if (!m) return undefined;
  return { major: Number(m[1]), minor: Number(m[2]), patch: Number(m[3]), text };
}

export async function micromambaVersion(exe: string, env: NodeJS.ProcessEnv = process.env): Promise<MicromambaVersion> {
  const out = await runMicromamba(exe, ['--version'], { env });
  const version = parseMicromambaVersion(out.stdout);
  if (!version) {
    throw new CommandError(exe, ['--version'], out.exitCode, tailLines(out.stdout + out.stderr), `${exe} --version printed no version`);
  }
  return version;
}

/** True when `v` is at least `major.minor.patch`. */
export function atLeast(v: MicromambaVersion, major: number, minor: number, patch = 0): boolean {
  if (v.major !== major) return v.major > major;
  if (v.minor !== minor) return v.minor > minor;
  return v.patch >= patch;
}
