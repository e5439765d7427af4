/**
 * Smoke tests: env.spec's `tests:`, run in a new prefix after it is complete and before `latest` or
 * any label points to it. Each command runs in a prefix shell (prefix-shell.ts) with a fresh empty
 * working directory and a time limit; the first failure stops the rest.
 */
import { promises as fs } from 'node:fs';
import os from 'node:os';
import * as path from 'node:path';
import { GitenvError, tailLines } from '../util/errors.js';
import { prefixEnv, runBash, SOURCE_ACTIVATION } from './prefix-shell.js';

/** Seconds a test command may run by default. */
export const DEFAULT_TEST_TIMEOUT = 600;

/** What the marker records of the tests (passed, or skipped on request). */
export interface TestRecord {
  status: 'passed' | 'skipped';
  commands: string[];
}

/** A smoke test failed: names the environment, the command, its exit status and its last lines. */
export class SmokeTestError extends GitenvError {
  constructor(
    readonly env: string,
    readonly command: string,
    readonly status: string,
    readonly outputTail: string,
  ) {
    super(`smoke test of ${env} failed: \`${command}\` ${status}` + (outputTail ? `; last lines of its output:\n${outputTail}` : ''));
  }
}

export interface SmokeTestOptions {
  env: string;
  timeoutSeconds: number;
  /** Where the fresh working directories go (default the OS temp directory). */
  workDir?: string;
  /** Told each command before it runs. */
  onCommand?: (command: string) => void;
}

/** Runs each command in `prefix`; throws SmokeTestError on the first that fails. */
export async function runSmokeTests(prefix: string, commands: readonly string[], options: SmokeTestOptions): Promise<void> {
  const base = options.workDir ?? os.tmpdir();
  await fs.mkdir(base, { recursive: true });
  for (const command of commands) {
    options.onCommand?.(command);
    const cwd = await fs.mkdtemp(path.join(base, 'gitenv-test-'));
    try {
      const run = await runBash(`${SOURCE_ACTIVATION}eval "$1"`, [command], {
        cwd,
        env: { ...prefixEnv(prefix), TMPDIR: cwd },
        timeoutMs: options.timeoutSeconds * 1000,
      });
      if (run.code === 0 && !run.timedOut) continue;
      const status = run.timedOut ? `did not finish within ${options.timeoutSeconds} s (input test-timeout)` : run.code !== null ? `exited with status ${run.code}` : `was killed by ${run.signal}`;
      throw new SmokeTestError(options.env, command, status, tailLines(run.output, 20));
    } finally {
      await fs.rm(cwd, { recursive: true, force: true }).catch(() => undefined);
    }
  }
}
