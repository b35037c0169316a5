import type { ServerResponse } from 'node:http';
import { seededRandom } from './ids.js';

/**
 * Where a fault applies: every API route, one API route by its template (e.g.
 * `POST /v1/packages/{package_id}/finalize`), storage part uploads, or the create-upload call.
 */
export type FaultTarget = 'api' | 'storage-part' | 'storage-create' | `route:${string}`;

export type FaultKind =
  /** Answer with `status` (API: JSON `{code,message}`; storage: S3 XML, `SlowDown` for 503). */
  | 'status'
  /** Cut the connection: API before answering; storage after `afterBytes` of the body. */
  | 'reset'
  /** Wait `latencyMs` before handling. */
  | 'latency'
  /** Storage: refuse the part URL as expired (403 AccessDenied). */
  | 'expire-url'
  /** API: the package token in use is expired from now on (401), forcing a refresh. */
  | 'expire-token'
  /** The request is carried out (committed), then the connection is cut before the answer. */
  | 'reset-after-commit'
  /** The request is carried out (committed), then a gateway answers `status` (502 by default). */
  | 'status-after-commit';

export interface FaultRule {
  target: FaultTarget;
  kind: FaultKind;
  status?: number;
  /** Seconds (or an HTTP date) sent as `Retry-After` with a status fault. */
  retryAfter?: string;
  latencyMs?: number;
  /** For storage resets: bytes of the body read before the connection is cut (default: half). */
  afterBytes?: number;
  /** Apply to the next N matching requests, then stop. */
  times?: number;
  /** Apply to each matching request with this probability (seeded). */
  probability?: number;
  /** Skip this many matching requests before the rule starts applying. */
  skip?: number;
}

interface ActiveRule extends FaultRule {
  id: number;
  seen: number;
  applied: number;
}

/** A deterministic, seeded schedule of faults, switchable per test or over the inspection API. */
export class FaultSchedule {
  private rules: ActiveRule[] = [];
  private nextId = 1;
  private random: () => number;

  constructor(seed = 1) {
    this.random = seededRandom(seed);
  }

  seed(seed: number) {
    this.random = seededRandom(seed);
  }

  add(rule: FaultRule): number {
    validateRule(rule);
    const id = this.nextId++;
    this.rules.push({ ...rule, id, seen: 0, applied: 0 });
    return id;
  }

  clear() {
    this.rules = [];
  }

  list(): ReadonlyArray<FaultRule & { id: number; applied: number }> {
    return this.rules.map(({ seen: _seen, ...rule }) => rule);
  }

  /** The faults that fire for one request, in the order they were added. */
  match(target: 'api' | 'storage-part' | 'storage-create', route?: string): FaultRule[] {
    const fired: FaultRule[] = [];
    for (const rule of this.rules) {
      const applies =
        rule.target === target ||
        (target === 'api' && route !== undefined && rule.target === `route:${route}`);
      if (!applies) continue;
      rule.seen++;
      if (rule.skip !== undefined && rule.seen <= rule.skip) continue;
      if (rule.times !== undefined && rule.applied >= rule.times) continue;
      if (rule.probability !== undefined && this.random() >= rule.probability) continue;
      rule.applied++;
      fired.push(rule);
    }
    return fired;
  }
}

const KINDS = new Set([
  'status',
  'reset',
  'latency',
  'expire-url',
  'expire-token',
  'reset-after-commit',
  'status-after-commit',
]);

/** The fault that loses the answer of a request that succeeded, if one fired. */
export function lostAnswerFault(fired: FaultRule[]): FaultRule | undefined {
  return fired.find((f) => f.kind === 'reset-after-commit' || f.kind === 'status-after-commit');
}

/**
 * Makes `res` lose a successful answer the way a flaky network or a gateway does: the handler
 * commits its change, then the connection is cut, or a gateway's 502/504 replaces the answer.
 * Error answers (nothing committed) pass through unchanged.
 */
export function loseAnswerAfterCommit(res: ServerResponse, fault: FaultRule) {
  const writeHead = res.writeHead.bind(res) as (status: number, headers?: Record<string, string>) => void;
  const end = res.end.bind(res) as (chunk?: unknown) => void;
  let lost = false;
  res.writeHead = ((status: number, ...rest: unknown[]) => {
    if (status >= 300) return writeHead(status, rest.at(-1) as Record<string, string>);
    lost = true;
    if (fault.kind === 'reset-after-commit') {
      res.socket?.destroy();
      return res;
    }
    const code = fault.status ?? 502;
    const text = `<html><body><h1>${code} Bad Gateway</h1>The upstream server did not answer in time.</body></html>`;
    writeHead(code, { 'content-type': 'text/html', 'content-length': String(Buffer.byteLength(text)) });
    end(text);
    return res;
  }) as ServerResponse['writeHead'];
  res.end = ((...args: unknown[]) => {
    if (lost) return res;
    return (end as (...a: unknown[]) => void)(...args);
  }) as ServerResponse['end'];
}

function validateRule(rule: FaultRule) {
  if (!rule || typeof rule !== 'object') throw new Error('A fault rule must be an object.');
  if (!/^(api|storage-part|storage-create|route:.+)$/.test(String(rule.target))) {
    throw new Error(
      `Unknown fault target "${rule.target}": use api, storage-part, storage-create or route:<METHOD path>.`,
    );
  }
  if (!KINDS.has(rule.kind))
    throw new Error(`Unknown fault kind "${rule.kind}": use ${[...KINDS].join(', ')}.`);
  if (
    rule.kind === 'status' &&
    !(Number.isInteger(rule.status) && rule.status! >= 400 && rule.status! <= 599)
  ) {
    throw new Error('A status fault needs status between 400 and 599.');
  }
  if (
    rule.kind === 'status-after-commit' &&
    rule.status !== undefined &&
    ![502, 503, 504].includes(rule.status)
  ) {
    throw new Error('A status-after-commit fault is a gateway answer: status 502, 503 or 504 (default 502).');
  }
  if (rule.kind === 'latency' && !(typeof rule.latencyMs === 'number' && rule.latencyMs >= 0)) {
    throw new Error('A latency fault needs latencyMs ≥ 0.');
  }
  if (rule.probability !== undefined && !(rule.probability >= 0 && rule.probability <= 1)) {
    throw new Error('probability must be between 0 and 1.');
  }
}
