import { arnMatch, wildcardMatch } from './wildcard.js';

/**
 * The Condition element, as "IAM JSON policy elements: Condition operators" and "Conditions with
 * multiple context keys or values" define it: operators AND, keys AND, a key's values OR (NOR for
 * a negated operator). A key absent from the request makes a positive operator false and a negated
 * one true; `…IfExists` makes any operator true when its key is absent.
 */

export type ContextValue = string | string[] | boolean;
export type RequestContext = Record<string, ContextValue>;

type Match = (policyValue: string, requestValue: string) => boolean;

const POSITIVE: Record<string, Match> = {
  StringEquals: (p, r) => p === r,
  StringEqualsIgnoreCase: (p, r) => p.toLowerCase() === r.toLowerCase(),
  StringLike: (p, r) => wildcardMatch(p, r),
  ArnEquals: arnMatch,
  ArnLike: arnMatch,
  Bool: (p, r) => p.toLowerCase() === r.toLowerCase(),
};

const NEGATED: Record<string, string> = {
  StringNotEquals: 'StringEquals',
  StringNotEqualsIgnoreCase: 'StringEqualsIgnoreCase',
  StringNotLike: 'StringLike',
  ArnNotEquals: 'ArnEquals',
  ArnNotLike: 'ArnLike',
};

/** Condition keys are case-insensitive (their values are not). */
function lookup(context: RequestContext, key: string): string[] | undefined {
  const lower = key.toLowerCase();
  const found = Object.entries(context).find(([k]) => k.toLowerCase() === lower);
  if (!found) return undefined;
  const value = found[1];
  return Array.isArray(value) ? value : [String(value)];
}

const policyValues = (value: unknown): string[] => [value].flat().map((v) => String(v));

function keyHolds(operator: string, key: string, expected: unknown, context: RequestContext): boolean {
  if (operator.includes(':'))
    throw new Error(`Set operator ${operator} is not supported by the local IAM evaluator.`);
  const ifExists = operator.endsWith('IfExists');
  const base = ifExists ? operator.slice(0, -'IfExists'.length) : operator;
  const actual = lookup(context, key);
  const wanted = policyValues(expected);
  if (base === 'Null') return wanted.some((w) => (w.toLowerCase() === 'true') === (actual === undefined));
  const positive = POSITIVE[base] ?? POSITIVE[NEGATED[base] ?? ''];
  if (!positive)
    throw new Error(`Condition operator ${operator} is not supported by the local IAM evaluator.`);
  const negated = !(base in POSITIVE);
  if (actual === undefined) return ifExists || negated;
  const anyMatch = actual.some((a) => wanted.some((w) => positive(w, a)));
  return negated ? !anyMatch : anyMatch;
}

/** Whether a statement's whole Condition block holds for the request. */
export function conditionHolds(condition: unknown, context: RequestContext): boolean {
  if (condition === undefined) return true;
  return Object.entries(condition as Record<string, Record<string, unknown>>).every(([operator, keys]) =>
    Object.entries(keys).every(([key, expected]) => keyHolds(operator, key, expected, context)),
  );
}
