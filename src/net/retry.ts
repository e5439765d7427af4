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

/** Errors of the network itself (reset, refused, timeout, body cut short) are retried. */
export function isRetryableError(err: unknown): boolean {
  if (err instanceof RetryableError) return true;
  if (!(err instanceof Error)) return false;
  if (err.name === 'AbortError' || err.name === 'TimeoutError') return true;
  const code = (err as { code?: string }).code ?? (err.cause as { code?: string } | undefined)?.code;
  if (code && /^(ECONNRESET|ECONNREFUSED|EPIPE|ETIMEDOUT|EAI_AGAIN|ENOTFOUND|UND_ERR_\w+|ERR_STREAM_PREMATURE_CLOSE)$/.test(code)) {
    return true;
  }
  return err instanceof TypeError && /fetch failed|terminated|other side closed/i.test(err.message);
}

/** Thrown by a caller to say "this attempt failed in a way worth retrying" (e.g. a truncated body). */
export class RetryableError extends Error {
  constructor(
    message: string,
    readonly retryAfterMs?: number,
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
export async function withRetries<T>(
  policy: RetryPolicy,
  attempt: (n: number) => Promise<T>,
  onRetry?: (err: unknown, n: number, delayMs: number) => void,
): Promise<T> {
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
