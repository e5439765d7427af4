/**
 * What the front ends tell a person about an error that ended a phase, and with which exit code.
 * A GitenvError (something the user, the repository or the network got wrong) is its message,
 * with advice where gitenv knows it; a file-system refusal names the path and the user; anything
 * else is a bug in gitenv: its stack, and an exit code of its own.
 */
import * as os from 'node:os';
import { redactUrl } from '../git/auth.js';
import { GitenvError } from '../util/errors.js';

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

/** The codes of file-system errors that the environment, not gitenv, is answerable for. */
const SYSTEM_CODES: Record<string, string> = {
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EROFS: 'read-only file system',
  ENOSPC: 'no space left on the device',
  EDQUOT: 'disk quota exceeded',
};

function runningAs(): string {
  try {
    const me = os.userInfo();
    return `${me.username} (uid ${me.uid})`;
  } catch {
    return `uid ${process.getuid?.() ?? '?'}`;
  }
}

/** Advice for the failures whose remedy is known: git's safe.directory, file permissions. */
function advice(message: string): string[] {
  const out: string[] = [];
  const dubious = /dubious ownership in repository at '([^']+)'/.exec(message);
  if (dubious) {
    out.push(
      `hint: the repository belongs to another user than the one gitenv runs as (${runningAs()}); if you trust it, run: git config --global --add safe.directory '${dubious[1]}'`,
    );
  }
  if (/(cannot|could not|unable to|failed to)[^\n]*Permission denied|EACCES/i.test(message) && !dubious) {
    out.push(`hint: gitenv runs as ${runningAs()}; give that user access, or run gitenv as the owner`);
  }
  return out;
}

export function reportError(err: unknown): ErrorReport {
  if (err instanceof GitenvError) {
    const message = redactUrl(err.message);
    return { message: [message, ...advice(message)].join('\n'), bug: false };
  }
  const sys = err as NodeJS.ErrnoException | undefined;
  if (sys && typeof sys.code === 'string' && SYSTEM_CODES[sys.code]) {
    const dest = (sys as { dest?: string }).dest;
    const where = sys.path ? `${sys.path}${dest ? ` -> ${dest}` : ''}` : 'a file';
    return {
      message: `${SYSTEM_CODES[sys.code]}: ${sys.syscall ?? 'access'} ${redactUrl(where)} (gitenv runs as ${runningAs()}); give that user access, or choose another directory`,
      bug: false,
    };
  }
  const stack = err instanceof Error ? (err.stack ?? `${err.name}: ${err.message}`) : String(err);
  return {
    message: `unexpected error (a bug in gitenv; please report it with this text):\n${redactUrl(stack)}`,
    bug: true,
  };
}
