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
    super(
      `${summary ?? `${command} ${args.join(' ')} failed`} (exit code ${exitCode ?? 'signal'})` +
        (stderrTail ? `:\n${stderrTail}` : ''),
    );
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

/** One line for a person: the error's message, whatever was thrown. */
export function errorMessage(err: unknown): string {
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
