/**
 * IAM's wildcards: `*` any run of characters, `?` exactly one; everything else literal.
 * Actions compare case-insensitively, resources and string conditions case-sensitively.
 */
const literal = (s: string) => s.replace(/[.+^${}()|[\]\\]/g, '\\$&');

export function wildcardMatch(pattern: string, value: string, ignoreCase = false): boolean {
  const source = pattern
    .split(/([*?])/)
    .map((part) => (part === '*' ? '.*' : part === '?' ? '.' : literal(part)))
    .join('');
  return new RegExp(`^${source}$`, ignoreCase ? 'is' : 's').test(value);
}

/**
 * `ArnLike`/`ArnEquals`: "each of the six colon-delimited components of the ARN is checked
 * separately" (IAM condition operators) — so a `*` never spans a colon outside the last part.
 */
export function arnMatch(pattern: string, arn: string): boolean {
  const split = (s: string) => {
    const parts = s.split(':');
    return parts.length < 6 ? undefined : [...parts.slice(0, 5), parts.slice(5).join(':')];
  };
  const p = split(pattern);
  const a = split(arn);
  if (!p || !a) return false;
  return p.every((part, i) => wildcardMatch(part, a[i]!));
}
