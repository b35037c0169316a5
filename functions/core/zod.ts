import { config, type core, int, maximum, maxLength, minimum, minLength, string } from 'zod/mini';
import en from 'zod/v4/locales/en.js';

// zod/mini keeps Lambda bundles small (tens of KB instead of ~450 KB); English messages are opt-in.
// Import members by name (never re-export the namespace) so the bundler can drop the rest.
config(en());

/** A string of `min`..`max` characters. */
export const text = (min: number, max: number) => string().check(minLength(min), maxLength(max));

/** A whole number in `[min, max]`. */
export const whole = (min: number, max: number) => int().check(minimum(min), maximum(max));

/** One line per issue: `path: message`, unknown keys listed by name. */
export function describeIssues(issues: core.$ZodIssue[]): string[] {
  return issues.map(
    (i) =>
      `${i.path.join('.') || '(root)'}: ${i.code === 'unrecognized_keys' ? `unknown field(s) ${i.keys.join(', ')}` : i.message}`,
  );
}
