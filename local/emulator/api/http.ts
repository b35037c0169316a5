import type { IncomingMessage } from 'node:http';
import type { EmulatorState, EmuPackage } from '../model.js';

export interface ApiReply {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

export interface ApiContext {
  state: EmulatorState;
  req: IncomingMessage;
  params: string[];
  query: URLSearchParams;
  body: unknown;
  /** The authorized package, on package-scoped routes. */
  pkg?: EmuPackage;
}

/** A MASV-style error: `{code, message}`. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export type Handler = (ctx: ApiContext) => ApiReply | Promise<ApiReply>;

export const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

export const ISO_WITH_ZONE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

export function body(ctx: ApiContext): Record<string, unknown> {
  if (!ctx.body || typeof ctx.body !== 'object' || Array.isArray(ctx.body)) {
    throw new ApiError(400, 'request body must be a JSON object');
  }
  return ctx.body as Record<string, unknown>;
}

export function requiredString(record: Record<string, unknown>, field: string, allowEmpty = false): string {
  const value = record[field];
  if (value === undefined || value === null) throw new ApiError(400, `${field} is required`);
  if (typeof value !== 'string') throw new ApiError(400, `${field} must be a string`);
  if (!allowEmpty && value.trim() === '') throw new ApiError(400, `${field} must not be empty`);
  return value;
}

export function optionalInteger(record: Record<string, unknown>, field: string, min = 0): number | undefined {
  const value = record[field];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) {
    throw new ApiError(400, `${field} must be an integer ≥ ${min}`);
  }
  return value;
}

/** A part size within the spec's `[min_chunk_size, max_chunk_size]`, or 400. */
export function checkPartSize(state: EmulatorState, value: number | undefined, field = 'chunk_size') {
  const { min_chunk_size: min, max_chunk_size: max } = state.settings.spec;
  if (value !== undefined && (value < min || value > max)) {
    throw new ApiError(400, `${field} ${value} is outside the allowed range [${min}, ${max}]`);
  }
}

/** The part size a creation asks for in `chunk_size`, within the spec's range; undefined when none. */
export function requestedPartSize(state: EmulatorState, record: Record<string, unknown>): number | undefined {
  const partSize = optionalInteger(record, 'chunk_size', 1);
  checkPartSize(state, partSize);
  return partSize;
}

/** An email address the request gives (as `what`: recipient, sender…), or 400 naming the value. */
export function requireEmail(value: unknown, what: string) {
  if (typeof value !== 'string' || !EMAIL.test(value)) {
    throw new ApiError(400, `${what} ${JSON.stringify(value)} is not a valid email address`);
  }
}
