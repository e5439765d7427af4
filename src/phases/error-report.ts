/**
 * What the front ends tell a person about an error that ended a phase, and with which exit code.
 * A GitenvError (something the user, the repository or the network got wrong) is its message,
 * with advice where gitenv knows it; a file-system refusal names the path and the user; anything
 * else is a bug in gitenv: its stack, and an exit code of its own.
 */
import { redactUrls } from '../util/secrets.js';
import { GitenvError, runningAs, systemErrorMessage } from '../util/errors.js';

/** A phase or an environment failed for a reason the message gives. */
export const EXIT_FAILURE = 1;
/** The command line was wrong (argparse's code). */
export const EXIT_USAGE = 2;
/** gitenv itself went wrong (sysexits' EX_SOFTWARE). */
export const EXIT_BUG = 70;

export interface ErrorReport {
  /** For a person; for a bug, the stack. Credentials in URLs are already scrubbed. */
  message: string;
  bug: boolean;
}

/** Advice for the failures whose remedy is known: git's safe.directory, file permissions. */
function advice(message: string): string[] {
  const out: string[] = [];
  const dubious = /dubious ownership in repository at '([^']+)'/.exec(message);
  if (dubious) {
    out.push(`hint: the repository belongs to another user than the one gitenv runs as (${runningAs()}); if you trust it, run: git config --global --add safe.directory '${dubious[1]}'`);
  }
  if (/(cannot|could not|unable to|failed to)[^\n]*Permission denied|EACCES/i.test(message) && !dubious) {
    out.push(`hint: gitenv runs as ${runningAs()}; give that user access, or run gitenv as the owner`);
  }
  return out;
}

export function reportError(err: unknown): ErrorReport {
  if (err instanceof GitenvError) {
    const message = redactUrls(err.message);
    return { message: [message, ...advice(message)].join('\n'), bug: false };
  }
  const system = systemErrorMessage(err);
  if (system) return { message: redactUrls(system), bug: false };
  const stack = err instanceof Error ? (err.stack ?? `${err.name}: ${err.message}`) : String(err);
  return {
    message: `unexpected error (a bug in gitenv; please report it with this text):\n${redactUrls(stack)}`,
    bug: true,
  };
}
