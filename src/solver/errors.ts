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
