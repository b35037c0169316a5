import { type Dispatcher, getGlobalDispatcher } from 'undici';
import {
  isRetryable,
  MasvAuthError,
  MasvOutcomeUnknownError,
  MasvProtocolError,
  NetworkError,
  provesNotCommitted,
  RelayError,
} from '../errors.js';
import { redact } from '../redact.js';
import { type RetryOptions, withRetry } from '../retry.js';
import { headerValue } from './blueprint.js';
import { DEFAULT_MASV_API_URL } from './defaults.js';
import { masvResponseError } from './response-errors.js';
import type { PackageAccess } from './types.js';

export interface MasvTransportOptions {
  /** API base URL; defaults to `https://api.massive.app`. */
  baseUrl?: string;
  /** undici dispatcher for API calls and storage blueprints (tests and tuning). */
  dispatcher?: Dispatcher;
  /** Retry policy, clock and hooks for API calls. */
  retry?: RetryOptions;
  userAgent?: string;
}

export interface CallOptions {
  headers?: Record<string, string>;
  json?: unknown;
  query?: Record<string, string | number | string[]>;
  /**
   * `once` for requests that change MASV's state and must not be repeated blindly (create a
   * package, add a file, create a link): they are retried only when the failure proves nothing
   * committed; any other failure becomes `MasvOutcomeUnknownError` for the caller to reconcile.
   */
  commit?: 'repeatable' | 'once';
}

/**
 * HTTP to MASV's API: JSON in and out, typed errors with redacted messages, retries with backoff
 * (only what cannot have committed, for `once` calls), and the package-token refresh on 401.
 */
export class MasvTransport {
  readonly baseUrl: string;
  readonly dispatcher: Dispatcher;
  readonly retry: RetryOptions;
  private readonly userAgent: string;

  constructor(options: MasvTransportOptions = {}) {
    this.baseUrl = (options.baseUrl ?? DEFAULT_MASV_API_URL).replace(/\/+$/, '');
    this.dispatcher = options.dispatcher ?? getGlobalDispatcher();
    this.retry = options.retry ?? {};
    this.userAgent = options.userAgent ?? 'masv-relay';
  }

  /** A package-scoped call; on 401 it refreshes the token once (when it can) and tries again. */
  async packageCall(
    access: PackageAccess,
    route: string,
    method: Dispatcher.HttpMethod,
    subPath: string,
    options: CallOptions = {},
  ): Promise<unknown> {
    const path = `/v1/packages/${encodeURIComponent(access.packageId)}${subPath}`;
    const attempt = () =>
      this.call(route, method, path, {
        ...options,
        headers: { ...options.headers, 'x-package-token': access.token },
      });
    try {
      return await attempt();
    } catch (error) {
      if (!(error instanceof MasvAuthError) || !access.refresh) throw error;
      access.token = await access.refresh();
      return attempt();
    }
  }

  /** One API call: the parsed JSON body (`undefined` for an empty one) or a typed error. */
  call(
    route: string,
    method: Dispatcher.HttpMethod,
    path: string,
    options: CallOptions = {},
  ): Promise<unknown> {
    const headers: Record<string, string> = { 'user-agent': this.userAgent, ...options.headers };
    let body: string | undefined;
    if (options.json !== undefined) body = JSON.stringify(options.json);
    if (body !== undefined || method === 'POST') headers['content-type'] = 'application/json';
    const once = options.commit === 'once';
    const retry: RetryOptions = once
      ? { ...this.retry, shouldRetry: (error) => isRetryable(error) && provesNotCommitted(error) }
      : this.retry;
    return withRetry(async () => {
      let response: Dispatcher.ResponseData;
      let text: string;
      try {
        response = await this.dispatcher.request({
          origin: this.baseUrl,
          path: `${path}${queryString(options.query)}`,
          method,
          headers,
          body,
        });
        text = await response.body.text();
      } catch (error) {
        if (error instanceof RelayError) throw error;
        throw new NetworkError(
          `MASV ${route} failed before a complete response: ${redact(String((error as Error).message))}. ` +
            'Retried with backoff; check network access to the MASV API.',
          { cause: error },
        );
      }
      if (response.statusCode >= 300) {
        throw masvResponseError(
          route,
          response.statusCode,
          text,
          headerValue(response.headers['retry-after']),
        );
      }
      if (!text) return undefined;
      try {
        return JSON.parse(text) as unknown;
      } catch (error) {
        throw new MasvProtocolError(
          `MASV ${route} answered ${response.statusCode} with a body that is not JSON.`,
          {
            cause: error,
          },
        );
      }
    }, retry).catch((error: unknown) => {
      if (!once || !isRetryable(error) || provesNotCommitted(error)) throw error;
      throw new MasvOutcomeUnknownError(
        `MASV ${route} may have been carried out, but its answer was lost (${(error as Error).message}). ` +
          "It is not repeated blindly: the relay reconciles from MASV's state.",
        { cause: error },
      );
    });
  }
}

/** `?a=1&b=x&b=y`: arrays become repeated parameters, as MASV's list filters take them. */
function queryString(query: CallOptions['query']): string {
  if (!query) return '';
  const pairs = Object.entries(query).flatMap(
    ([key, value]): Array<[string, string]> =>
      Array.isArray(value) ? value.map((item) => [key, item]) : [[key, String(value)]],
  );
  return `?${new URLSearchParams(pairs).toString()}`;
}
