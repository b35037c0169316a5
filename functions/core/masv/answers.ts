import type * as z from 'zod/mini';
import { MasvValidationError } from '../errors.js';
import { type blueprintSchema, createdPackageSchema, type packageSchema, parseAnswer } from './schemas.js';
import type { Blueprint, CreatedPackage, FinalizeOutcome, PackageSummary } from './types.js';

/** MASV's answers, once checked against their schemas (`schemas.ts`), in the relay's words. */

export function createdPackage(route: string, body: unknown): CreatedPackage {
  const created = parseAnswer(route, createdPackageSchema, body);
  return { id: created.id, token: created.access_token };
}

export function packageSummary(record: z.infer<typeof packageSchema>): PackageSummary {
  return {
    id: record.id,
    name: record.name ?? '',
    description: record.description ?? '',
    state: record.state,
    createdAt: record.created_at ?? '',
    totalFiles: record.total_files ?? 0,
  };
}

/** A blueprint as the relay forwards it: header values as strings, an absent body as "". */
export function blueprint(value: z.infer<typeof blueprintSchema>): Blueprint {
  const headers: Record<string, string> = {};
  for (const [name, headerValue] of Object.entries(value.headers ?? {})) headers[name] = String(headerValue);
  return { url: value.url, method: value.method, headers, body: value.body ?? '' };
}

/** A finalize that MASV refuses because it was already done (409, or 400 saying so) is done. */
export async function alreadyFinalizedIsDone(call: Promise<unknown>): Promise<FinalizeOutcome> {
  try {
    await call;
    return 'finalized';
  } catch (error) {
    if (
      error instanceof MasvValidationError &&
      (error.httpStatus === 409 || /already finali[sz]ed/i.test(error.message))
    ) {
      return 'already-finalized';
    }
    throw error;
  }
}
