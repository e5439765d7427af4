// Helpers of the local-action tests: run an action the way a developer does on their machine,
// `npx local-action actions/<phase> ../../src/actions/<phase>.ts <env file>`, with its .env.example.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';

export const exec = promisify(execFile);
export const ROOT = path.resolve('.');

// Identity for the commits this test makes itself; the actions bring their own.
export const GIT_ENV = {
  ...process.env,
  GIT_AUTHOR_NAME: 'gitenv test',
  GIT_AUTHOR_EMAIL: 'test@example.invalid',
  GIT_COMMITTER_NAME: 'gitenv test',
  GIT_COMMITTER_EMAIL: 'test@example.invalid',
};

export async function git(cwd: string, ...args: string[]): Promise<string> {
  const { stdout } = await exec('git', args, { cwd, env: GIT_ENV });
  return stdout.trim();
}

/** KEY=value lines of a dotenv file, in order (comments and blank lines dropped). */
export function parseDotenv(text: string): [string, string][] {
  return text
    .split('\n')
    .filter((line) => /^[A-Za-z_][\w.-]*=/.test(line))
    .map((line) => {
      const i = line.indexOf('=');
      return [line.slice(0, i), line.slice(i + 1)];
    });
}

/** The action's .env.example with some values replaced, written where local-action can read it. */
export async function writeEnvFile(phase: string, dir: string, values: Record<string, string>): Promise<string> {
  const entries = parseDotenv(readFileSync(path.join(ROOT, 'actions', phase, '.env.example'), 'utf8'));
  for (const key of Object.keys(values)) {
    if (!entries.some(([k]) => k === key)) throw new Error(`${key} is not in actions/${phase}/.env.example`);
  }
  const lines = entries.map(([k, v]) => `${k}=${values[k] ?? v}`);
  const file = path.join(dir, `${phase}.env`);
  await writeFile(file, lines.join('\n') + '\n');
  // The runner creates the summary file before a step starts; @actions/core insists on it.
  if (values.GITHUB_STEP_SUMMARY) await writeFile(values.GITHUB_STEP_SUMMARY, '', { flag: 'a' });
  return file;
}

export interface LocalRun {
  outputs: Record<string, string>;
  errors: string[];
  log: string;
}

/** `npx local-action actions/<phase> ../../src/actions/<phase>.ts <env file>` from the repository root. */
export async function localAction(phase: string, envFile: string): Promise<LocalRun> {
  // local-action exits 0 when the action failed (its core stub only records the failure); should the
  // real @actions/core run instead, a failure exits 1. Either way the ::error:: lines tell.
  const { stdout, stderr } = await exec('npx', ['--no', 'local-action', `actions/${phase}`, `../../src/actions/${phase}.ts`, envFile], {
    cwd: ROOT,
    env: { ...process.env, FORCE_COLOR: '0', NO_COLOR: '1' },
    maxBuffer: 16 * 1024 * 1024,
  }).catch((err: { stdout?: string; stderr?: string; message: string }) => ({
    stdout: err.stdout ?? '',
    stderr: `${err.stderr ?? ''}\n::error::local-action exited non-zero: ${err.message}`,
  }));
  const log = stdout + stderr;
  const outputs: Record<string, string> = {};
  for (const m of log.matchAll(/^::set-output name=([\w-]+)::(.*)$/gm)) outputs[m[1]] = m[2];
  const errors = [...log.matchAll(/^::error[^:]*::(.*)$/gm)].map((m) => m[1]);
  return { outputs, errors, log };
}

/** A bare `origin` with branch `default` holding env.spec, as the old README starts; returns its path. */
export async function makeOrigin(tmp: string, spec: string): Promise<{ origin: string; work: string }> {
  const origin = path.join(tmp, 'origin.git');
  const work = path.join(tmp, 'work');
  await git(tmp, 'init', '--bare', '--quiet', origin);
  await git(tmp, 'init', '--quiet', '-b', 'default', work);
  await writeFile(path.join(work, 'env.spec'), spec);
  await git(work, 'add', 'env.spec');
  await git(work, 'commit', '--quiet', '-m', 'Added the default environment.');
  await git(work, 'push', '--quiet', origin, 'default');
  return { origin, work };
}
