import { describe, expect, it } from 'vitest';
import { MasvServerError, MasvValidationError, NetworkError } from '../../functions/core/errors.js';
import { backoffDelay, parseRetryAfter, type RetryClock, withRetry } from '../../functions/core/retry.js';

function recordingClock(random = 0.5): RetryClock & { sleeps: number[] } {
  const sleeps: number[] = [];
  return { sleeps, sleep: async (ms) => void sleeps.push(ms), random: () => random };
}

const policy = { maxAttempts: 4, baseDelayMs: 100, maxDelayMs: 1000 };

describe('withRetry', () => {
  it('retries retryable errors with exponential backoff and full jitter', async () => {
    const clock = recordingClock(0.5);
    let calls = 0;
    const result = await withRetry(
      async () => {
        calls++;
        if (calls < 4) throw new MasvServerError('boom');
        return 'ok';
      },
      { policy, clock },
    );
    expect(result).toBe('ok');
    expect(clock.sleeps).toEqual([50, 100, 200]);
  });

  it('stops after maxAttempts and rethrows the last error', async () => {
    const clock = recordingClock();
    let calls = 0;
    await expect(
      withRetry(
        async () => {
          calls++;
          throw new NetworkError(`reset ${calls}`);
        },
        { policy, clock },
      ),
    ).rejects.toThrow('reset 4');
    expect(calls).toBe(4);
  });

  it('never retries a non-retryable error', async () => {
    let calls = 0;
    await expect(
      withRetry(
        async () => {
          calls++;
          throw new MasvValidationError('bad');
        },
        { policy, clock: recordingClock() },
      ),
    ).rejects.toBeInstanceOf(MasvValidationError);
    expect(calls).toBe(1);
  });

  it('waits as long as Retry-After says, capped at maxDelayMs', async () => {
    const clock = recordingClock();
    const errors = [Object.assign(new MasvServerError('a'), { retryAfterMs: 700 })];
    errors.push(Object.assign(new MasvServerError('b'), { retryAfterMs: 60_000 }));
    await withRetry(
      async () => {
        const next = errors.shift();
        if (next) throw next;
      },
      { policy, clock },
    );
    expect(clock.sleeps).toEqual([700, 1000]);
  });

  it('retries raw socket resets from undici', async () => {
    let calls = 0;
    await withRetry(
      async () => {
        if (++calls === 1) throw Object.assign(new Error('other side closed'), { code: 'UND_ERR_SOCKET' });
      },
      { policy, clock: recordingClock() },
    );
    expect(calls).toBe(2);
  });
});

describe('backoffDelay', () => {
  it('caps the exponential ceiling at maxDelayMs', () => {
    expect(backoffDelay(10, policy, recordingClock(0.999))).toBe(999);
  });
});

describe('parseRetryAfter', () => {
  it('reads delta seconds', () => {
    expect(parseRetryAfter('3')).toBe(3000);
  });
  it('reads an HTTP date relative to now', () => {
    const now = Date.parse('Wed, 21 Oct 2026 07:28:00 GMT');
    expect(parseRetryAfter('Wed, 21 Oct 2026 07:28:05 GMT', now)).toBe(5000);
  });
  it('ignores absent or unreadable values', () => {
    expect(parseRetryAfter(undefined)).toBeUndefined();
    expect(parseRetryAfter('soon')).toBeUndefined();
  });
});
