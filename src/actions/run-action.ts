import * as core from '@actions/core';
import { EXIT_BUG, reportError } from '../phases/error-report.js';
import type { PhaseResult } from '../phases/result.js';
import { parseLogLevel } from '../phases/settings.js';
import { cell, section } from '../summary/markdown.js';
import { CoreLogger } from './core-logger.js';
import { actionInputs } from './inputs.js';

/** The logger of an action step: `log-level: debug` (or GITENV_DEBUG) shows debug lines without ACTIONS_STEP_DEBUG. */
export function actionLogger(): CoreLogger {
  const level = parseLogLevel(actionInputs());
  return new CoreLogger(level === 'debug' || Boolean(process.env.GITENV_DEBUG));
}

/** The job summary of a step that failed as a whole: the same heading as a finished one, and why. */
export function failureSummary(phase: string, message: string): string {
  return section(`gitenv ${phase}`, `**failed**: ${cell(message)}\n`);
}

/**
 * Ends a step that failed as a whole: the reason in the log and the job summary, one
 * core.setFailed, and for a bug (not a GitenvError) its stack and an exit code of its own.
 */
export async function failStep(phase: string, err: unknown): Promise<void> {
  const report = reportError(err);
  const firstLine = report.message.split('\n')[0];
  if (process.env.GITHUB_STEP_SUMMARY) {
    await core.summary.addRaw(failureSummary(phase, report.bug ? `${firstLine} (see the log)` : report.message), true).write();
  }
  core.setFailed(`gitenv ${phase}: ${report.message}`);
  if (report.bug) process.exitCode = EXIT_BUG;
}

/**
 * The frame every action entry shares: run the phase, set its outputs as JSON, write the job
 * summary, and fail the step (one core.setFailed) when the phase or an environment failed.
 */
export async function runAction<R extends PhaseResult>(phase: string, body: (logger: CoreLogger) => Promise<R>, outputs: (result: R) => Record<string, unknown>): Promise<void> {
  try {
    const result = await body(actionLogger());
    for (const [name, value] of Object.entries(outputs(result))) {
      core.setOutput(name, typeof value === 'string' ? value : JSON.stringify(value));
    }
    if (process.env.GITHUB_STEP_SUMMARY && result.summary) {
      await core.summary.addRaw(result.summary, true).write();
    }
    if (result.failed.length > 0) {
      const names = result.failed.map((f) => f.env).join(', ');
      core.setFailed(`gitenv ${phase}: ${result.failed.length} environment(s) failed: ${names}`);
    }
  } catch (err) {
    await failStep(phase, err);
  }
}
