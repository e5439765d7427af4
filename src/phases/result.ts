/** An environment that failed in a phase; the others go on. */
export interface FailedEnv {
  env: string;
  message: string;
}

/** What every phase returns to its front ends besides its own data. */
export interface PhaseResult {
  /** Markdown for the job summary. */
  summary: string;
  /** Environments that failed; non-empty fails the step / exits non-zero at the end. */
  failed: FailedEnv[];
}
