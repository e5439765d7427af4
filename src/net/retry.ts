import { errorMessage } from '../util/errors.js';

/** Retry policy shared by every HTTP user (repodata, package downloads, micromamba download). */
export interface RetryPolicy {
  /** Attempts in all, the first included. */
  attempts: number;
  /** Base delay in ms; doubled each attempt, with jitter. */
  baseDelayMs: number;
  /** Ceiling for one delay (Retry-After included). */
  maxDelayMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { attempts: 4, baseDelayMs: 500, maxDelayMs: 30_000 };

/** 5xx, 408 and 429 are worth another try; other 4xx are not (tool-cache's rule). */
export function isRetryableStatus(status: number): boolean {
  return status >= 500 || status === 408 || status === 429;
}

const NETWORK_CODES = /^(ECONNRESET|ECONNREFUSED|ECONNABORTED|EPIPE|ETIMEDOUT|EHOSTUNREACH|ENETUNREACH|EAI_AGAIN|ENOTFOUND|UND_ERR_\w+|ERR_STREAM_PREMATURE_CLOSE)$/;

/**
 * The one "is this worth another try" rule for errors (statuses: `isRetryableStatus`): a
 * RetryableError, a timeout or abort, an error of the network itself (reset, refused, DNS, body
 * cut short) by its code or its cause's, and fetch's own TypeErrors. Recognised by
 * name, code and message rather than `instanceof`: the error may come from another realm (jest's
 * VM modules, the WASM glue).
 */
export function isRetryableError(err: unknown): boolean {
  if (err instanceof RetryableError) return true;
  if (typeof err !== 'object' || err === null) return false;
  const e = err as { name?: string; message?: string; code?: string; cause?: { code?: string } };
  if (e.name === 'RetryableError' || e.name === 'AbortError' || e.name === 'TimeoutError') return true;
  const code = e.code ?? e.cause?.code;
  if (code && NETWORK_CODES.test(code)) return true;
  // undici's own failures are TypeErrors: "fetch failed" and "terminated", or any with a socket error as the cause.
  return e.name === 'TypeError' && (e.cause?.code !== undefined || /fetch failed|terminated|other side closed/i.test(e.message ?? ''));
}

/**
 * A retryable failure of fetch itself as a RetryableError whose message is its most telling line
 * (the cause's code and message, then `note` when given) and whose cause is the original; anything
 * else as it is.
 */
export function asRetryable(err: unknown, note = ''): unknown {
  if (err instanceof RetryableError || !isRetryableError(err)) return err;
  const retryable = new RetryableError(networkMessage(err, note));
  retryable.cause = err;
  return retryable;
}

/** The most telling line of a network error: its cause's code and message when there is one; then `note`. */
export function networkMessage(err: unknown, note = ''): string {
  const cause = (err as { cause?: { code?: string; message?: string } } | undefined)?.cause;
  if (err instanceof RetryableError && err.cause) return networkMessage(err.cause, note);
  if (cause?.message) return (cause.code && !cause.message.includes(cause.code) ? `${cause.code}: ${cause.message}` : cause.message) + note;
  return errorMessage(err) + note;
}

/**
 * Thrown by a caller to say "this attempt failed in a way worth retrying" (e.g. a truncated body);
 * `status` is the HTTP status when a server's answer was the failure, so nobody reads it back out
 * of the message.
 */
export class RetryableError extends Error {
  constructor(
    message: string,
    readonly retryAfterMs?: number,
    readonly status?: number,
  ) {
    super(message);
    this.name = 'RetryableError';
  }
}

/** Parses Retry-After (seconds or an HTTP date) into milliseconds. */
export function parseRetryAfter(value: string | null | undefined, now = Date.now()): number | undefined {
  if (!value) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/** The delay before attempt `attempt` (1-based retry count), honouring a server's Retry-After. */
export function retryDelay(policy: RetryPolicy, attempt: number, retryAfterMs?: number): number {
  if (retryAfterMs !== undefined) return Math.min(retryAfterMs, policy.maxDelayMs);
  const exp = policy.baseDelayMs * 2 ** (attempt - 1);
  return Math.min(exp / 2 + Math.random() * (exp / 2), policy.maxDelayMs);
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Runs `attempt` until it succeeds, fails with something not retryable, or the policy runs out.
 * `onRetry` is told why, so the log can say it.
 */
export async function withRetries<T>(policy: RetryPolicy, attempt: (n: number) => Promise<T>, onRetry?: (err: unknown, n: number, delayMs: number) => void): Promise<T> {
  for (let n = 1; ; n++) {
    try {
      return await attempt(n);
    } catch (err) {
      if (n >= policy.attempts || !isRetryableError(err)) throw err;
      const delay = retryDelay(policy, n, err instanceof RetryableError ? err.retryAfterMs : undefined);
      onRetry?.(err, n, delay);
      await sleep(delay);
    }
  }
}
