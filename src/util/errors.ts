import * as os from 'node:os';

/** Base class: every error gitenv raises on purpose. The message is meant for a person. */
export class GitenvError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** Something the user got wrong: an input, an env.spec, a tag name. */
export class ConfigurationError extends GitenvError {
  constructor(
    message: string,
    readonly where: { env?: string; file?: string; line?: number } = {},
  ) {
    super(message);
  }
}

/** A command underneath (git, micromamba, python) failed. */
export class CommandError extends GitenvError {
  constructor(
    readonly command: string,
    readonly args: string[],
    readonly exitCode: number | null,
    readonly stderrTail: string,
    summary?: string,
  ) {
    super(`${summary ?? `${command} ${args.join(' ')} failed`} (exit code ${exitCode ?? 'signal'})` + (stderrTail ? `:\n${stderrTail}` : ''));
  }
}

/** A package could not be fetched, verified, extracted or linked. */
export class PackageError extends GitenvError {
  constructor(
    readonly packageName: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`${packageName}: ${message}`, options);
  }
}

/** A network request failed after its retries. The URL must already be free of credentials. */
export class HttpError extends GitenvError {
  constructor(
    readonly url: string,
    readonly status: number | undefined,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** File-system refusals the environment, not gitenv, is answerable for: said in words, with the path and the user. */
const SYSTEM_ERRORS: Record<string, string> = {
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EROFS: 'read-only file system',
  ENOSPC: 'no space left on the device',
  EDQUOT: 'disk quota exceeded',
};

/** The user gitenv runs as, for messages about permissions: `runner (uid 1001)`. */
export function runningAs(): string {
  try {
    const me = os.userInfo();
    return `${me.username} (uid ${me.uid})`;
  } catch {
    return `uid ${process.getuid?.() ?? '?'}`;
  }
}

/** A Node file-system error of the kinds above, or undefined. */
export function systemErrorMessage(err: unknown): string | undefined {
  const sys = err as (NodeJS.ErrnoException & { dest?: string }) | undefined;
  if (!sys || typeof sys.code !== 'string' || !SYSTEM_ERRORS[sys.code]) return undefined;
  const where = sys.path ? `${sys.path}${sys.dest ? ` -> ${sys.dest}` : ''}` : 'a file';
  return `${SYSTEM_ERRORS[sys.code]}: ${sys.syscall ?? 'access'} ${where} (gitenv runs as ${runningAs()}); give that user access, or choose another directory`;
}

/** One line for a person: the error's message, whatever was thrown. */
export function errorMessage(err: unknown): string {
  const system = systemErrorMessage(err);
  if (system) return system;
  if (err instanceof Error) return err.message;
  return String(err);
}

/** The last `n` non-empty lines of a text (stderr tails in errors). */
export function tailLines(text: string, n = 10): string {
  return text
    .split('\n')
    .map((l) => l.trimEnd())
    .filter((l) => l.length > 0)
    .slice(-n)
    .join('\n');
}
