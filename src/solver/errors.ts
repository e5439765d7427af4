import { GitenvError } from '../util/errors.js';

/** The specs of an environment have no solution; the message carries the solver's explanation. */
export class UnsolvableError extends GitenvError {
  constructor(
    readonly env: string,
    readonly explanation: string,
  ) {
    super(`environment "${env}" cannot be solved: ${explanation.trim()}`);
  }
}

/** The solver's thread crashed, hit its memory limit or ran out of time on this environment. */
export class SolverCrashError extends GitenvError {
  constructor(
    readonly env: string,
    readonly reason: string,
  ) {
    super(`environment "${env}": ${reason}`);
  }
}
