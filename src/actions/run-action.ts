import * as core from '@actions/core';
import { errorMessage } from '../util/errors.js';
import type { PhaseResult } from '../phases/result.js';
import { CoreLogger } from './core-logger.js';

/**
 * The frame every action entry shares: run the phase, set its outputs as JSON, write the job
 * summary, and fail the step (one core.setFailed) when the phase or an environment failed.
 */
export async function runAction<R extends PhaseResult>(
  phase: string,
  body: (logger: CoreLogger) => Promise<R>,
  outputs: (result: R) => Record<string, unknown>,
): Promise<void> {
  try {
    const result = await body(new CoreLogger());
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
    core.setFailed(`gitenv ${phase}: ${errorMessage(err)}`);
  }
}
