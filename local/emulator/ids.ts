import { randomBytes } from 'node:crypto';

const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

/** A 26-character ULID like MASV's ids; `random` makes it deterministic for fixed accounts. */
export function ulid(timeMs = Date.now(), random: () => number = () => randomBytes(1)[0]! / 256): string {
  let time = '';
  let t = timeMs;
  for (let i = 0; i < 10; i++) {
    time = CROCKFORD[t % 32] + time;
    t = Math.floor(t / 32);
  }
  let rest = '';
  for (let i = 0; i < 16; i++) rest += CROCKFORD[Math.floor(random() * 32)];
  return time + rest;
}

/** mulberry32: a small seeded PRNG, so fault schedules repeat run after run. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** ISO 8601 UTC with milliseconds and `Z`, as MASV emits. */
export function isoTime(ms: number): string {
  return new Date(ms).toISOString();
}

export const ZERO_TIME = '0001-01-01T00:00:00.000Z';
