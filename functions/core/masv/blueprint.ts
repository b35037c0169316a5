import type { Readable } from 'node:stream';
import { type Dispatcher, getGlobalDispatcher } from 'undici';
import { NetworkError, RelayError } from '../errors.js';
import { redact, redactUrl } from '../redact.js';
import { storageResponseError } from './response-errors.js';
import type { Blueprint } from './types.js';

export interface BlueprintBody {
  stream: Readable;
  /** Exact byte count of `stream`; sent as `Content-Length` so no chunked encoding is used. */
  contentLength: number;
}

export interface BlueprintResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

/**
 * Splits a URL into origin and the path+query exactly as written, so undici sends MASV's signed
 * URL byte for byte (a re-encoded query would break the signature).
 */
export function splitUrl(url: string): { origin: string; path: string } {
  const parsed = new URL(url);
  const schemeEnd = url.indexOf('//') + 2;
  const pathStart = url.slice(schemeEnd).search(/[/?]/);
  const rest = pathStart === -1 ? '/' : url.slice(schemeEnd + pathStart);
  return { origin: parsed.origin, path: rest.startsWith('?') ? `/${rest}` : rest };
}

/**
 * Runs a blueprint request verbatim: its method, URL and headers, its body only when non-empty,
 * or the given stream with an exact `Content-Length`. Non-2xx answers become typed errors.
 * Never retries: a streamed body cannot be replayed, so the caller re-opens its source.
 */
export async function executeBlueprint(
  blueprint: Blueprint,
  what: string,
  options: { dispatcher?: Dispatcher; body?: BlueprintBody; signal?: AbortSignal } = {},
): Promise<BlueprintResponse> {
  const { origin, path } = splitUrl(blueprint.url);
  const headers: Record<string, string> = { ...blueprint.headers };
  let body: string | Readable | undefined;
  if (options.body) {
    headers['content-length'] = String(options.body.contentLength);
    body = options.body.stream;
  } else if (blueprint.body) {
    body = blueprint.body;
  }
  const dispatcher = options.dispatcher ?? getGlobalDispatcher();
  let response: Dispatcher.ResponseData;
  try {
    response = await dispatcher.request({
      origin,
      path,
      method: blueprint.method.toUpperCase() as Dispatcher.HttpMethod,
      headers,
      body,
      signal: options.signal,
    });
  } catch (error) {
    if (error instanceof RelayError) throw error;
    throw new NetworkError(
      `${what} to ${redactUrl(blueprint.url)} failed before a response: ${redact(String((error as Error).message))}.`,
      { cause: error },
    );
  }
  let text: string;
  try {
    text = await response.body.text();
  } catch (error) {
    throw new NetworkError(`${what}: the response body from storage was cut off.`, { cause: error });
  }
  if (response.statusCode < 200 || response.statusCode >= 300) {
    throw storageResponseError(what, response.statusCode, text, headerValue(response.headers['retry-after']));
  }
  return { status: response.statusCode, headers: response.headers, text };
}

export function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}
