import { isRetryable } from './errors.js';

export interface RetryPolicy {
  /** Total attempts including the first. */
  maxAttempts: number;
  /** Base of the exponential backoff, in ms. */
  baseDelayMs: number;
  /** Cap of one backoff delay (and of an honoured `Retry-After`), in ms. */
  maxDelayMs: number;
}

export interface RetryClock {
  sleep(ms: number): Promise<void>;
  /** A number in [0, 1): injectable so tests can pin the jitter. */
  random(): number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = { maxAttempts: 5, baseDelayMs: 200, maxDelayMs: 20_000 };

export const realClock: RetryClock = {
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
  random: Math.random,
};

/**
 * Delay before retry number `attempt` (1 = first retry): the server's `Retry-After` when it gave
 * one, else exponential backoff with full jitter (AWS Architecture Blog, "Exponential Backoff And
 * Jitter"), both capped at `maxDelayMs`.
 */
export function backoffDelay(attempt: number, policy: RetryPolicy, clock: RetryClock, retryAfterMs?: number) {
  if (retryAfterMs !== undefined) return Math.min(retryAfterMs, policy.maxDelayMs);
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1));
  return Math.floor(clock.random() * ceiling);
}

export interface RetryOptions {
  policy?: RetryPolicy;
  clock?: RetryClock;
  /** Called before each retry; useful for counters and logs. */
  onRetry?: (info: { attempt: number; delayMs: number; error: unknown }) => void;
  /** Override of the retry decision (defaults to `isRetryable`). */
  shouldRetry?: (error: unknown) => boolean;
}

/** Runs `operation` until it succeeds, fails with a non-retryable error, or attempts run out. */
export async function withRetry<T>(operation: (attempt: number) => Promise<T>, options: RetryOptions = {}) {
  const policy = options.policy ?? DEFAULT_RETRY_POLICY;
  const clock = options.clock ?? realClock;
  const shouldRetry = options.shouldRetry ?? isRetryable;
  for (let attempt = 1; ; attempt++) {
    try {
      return await operation(attempt);
    } catch (error) {
      if (attempt >= policy.maxAttempts || !shouldRetry(error)) throw error;
      const retryAfterMs = (error as { retryAfterMs?: number }).retryAfterMs;
      const delayMs = backoffDelay(attempt, policy, clock, retryAfterMs);
      options.onRetry?.({ attempt, delayMs, error });
      await clock.sleep(delayMs);
    }
  }
}

/** Parses `Retry-After` (delta seconds or an HTTP date) into milliseconds from `nowMs`. */
export function parseRetryAfter(value: string | undefined, nowMs = Date.now()): number | undefined {
  if (!value) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const date = Date.parse(trimmed);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - nowMs);
}
