import { type Dispatcher, getGlobalDispatcher } from 'undici';
import {
  isRetryable,
  MasvAuthError,
  MasvNotFoundError,
  MasvOutcomeUnknownError,
  MasvProtocolError,
  MasvValidationError,
  NetworkError,
  provesNotCommitted,
  RelayError,
} from '../errors.js';
import { redact } from '../redact.js';
import { type RetryOptions, withRetry } from '../retry.js';
import { type BlueprintBody, executeBlueprint, headerValue } from './blueprint.js';
import { masvResponseError } from './response-errors.js';
import type {
  AddedFile,
  AddFileRequest,
  Blueprint,
  CreatedPackage,
  PackageAccess,
  PackageLink,
  PackageSpec,
  PortalPackageRequest,
  TeamPackageRequest,
  UploadedPart,
} from './types.js';
import { parseUploadId } from './upload-id.js';

export const DEFAULT_MASV_API_URL = 'https://api.massive.app';

const TEAM_PACKAGE_ROUTE = 'GET /v1.1/teams/{team_id}/packages/{package_id}';

export interface MasvClientOptions {
  /** API base URL; defaults to `https://api.massive.app`. */
  baseUrl?: string;
  /** undici dispatcher for API calls and storage blueprints (tests and tuning). */
  dispatcher?: Dispatcher;
  /** Retry policy, clock and hooks for API calls. */
  retry?: RetryOptions;
  userAgent?: string;
}

interface CallOptions {
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

/** How a finalize call ended: carried out now, or MASV said it had already been done. */
export type FinalizeOutcome = 'finalized' | 'already-finalized';

/** A package as MASV's team listing and lookup describe it (no token). */
export interface PackageSummary {
  id: string;
  name: string;
  description: string;
  state: string;
  createdAt: string;
  totalFiles: number;
}

export interface PackageQuery {
  states: Array<'new' | 'finalized' | 'expired' | 'archived'>;
  name?: string;
  createdAtStart?: Date;
  createdAtEnd?: Date;
}

/**
 * Typed client of MASV's upload API. Plain dependencies, no AWS imports: handlers, the local
 * runner and the benchmarks all use it.
 *
 * @example
 * const masv = new MasvClient({ baseUrl: 'http://127.0.0.1:4590' });
 * const spec = await masv.getSpec();
 * const pkg = await masv.createTeamPackage(teamId, apiKey, { name, description, recipients });
 */
export class MasvClient {
  readonly baseUrl: string;
  private readonly dispatcher: Dispatcher;
  private readonly retry: RetryOptions;
  private readonly userAgent: string;
  private spec?: Promise<PackageSpec>;

  constructor(options: MasvClientOptions = {}) {
    this.baseUrl = (options.baseUrl ?? DEFAULT_MASV_API_URL).replace(/\/+$/, '');
    this.dispatcher = options.dispatcher ?? getGlobalDispatcher();
    this.retry = options.retry ?? {};
    this.userAgent = options.userAgent ?? 'masv-relay';
  }

  /** MASV's part limits, fetched once per client and cached. */
  getSpec(): Promise<PackageSpec> {
    this.spec ??= this.call<Record<string, unknown>>(
      'GET /v1/system/packages/spec',
      'GET',
      '/v1/system/packages/spec',
    ).then((body) => {
      const spec = {
        maxPartCount: body.max_chunk_count,
        maxPartSize: body.max_chunk_size,
        minPartSize: body.min_chunk_size,
      };
      for (const [key, value] of Object.entries(spec)) {
        if (typeof value !== 'number' || !Number.isSafeInteger(value) || value <= 0) {
          throw new MasvProtocolError(
            `MASV's package spec has no valid ${key}; got ${JSON.stringify(body)}.`,
          );
        }
      }
      return spec as PackageSpec;
    });
    this.spec.catch(() => {
      this.spec = undefined;
    });
    return this.spec;
  }

  async createTeamPackage(
    teamId: string,
    apiKey: string,
    request: TeamPackageRequest,
  ): Promise<CreatedPackage> {
    const body = await this.call<Record<string, unknown>>(
      'POST /v1/teams/{team_id}/packages',
      'POST',
      `/v1/teams/${encodeURIComponent(teamId)}/packages`,
      {
        commit: 'once',
        headers: { 'x-api-key': apiKey },
        json: dropUndefined({
          name: request.name,
          description: request.description,
          recipients: request.recipients,
          password: request.password,
          access_limit: request.accessLimit,
          unlimited_storage: request.unlimitedStorage,
          chunk_size: request.partSize,
        }),
      },
    );
    return createdPackage('POST /v1/teams/{team_id}/packages', body);
  }

  async createPortalPackage(portalId: string, request: PortalPackageRequest): Promise<CreatedPackage> {
    const headers: Record<string, string> = {};
    if (request.accessCode !== undefined) headers['x-access-code'] = encodeURIComponent(request.accessCode);
    const body = await this.call<Record<string, unknown>>(
      'POST /v1/portals/{portal_id}/packages',
      'POST',
      `/v1/portals/${encodeURIComponent(portalId)}/packages`,
      {
        commit: 'once',
        headers,
        json: dropUndefined({
          name: request.name,
          description: request.description,
          sender: request.sender,
          form_data_id: request.formDataId,
          chunk_size: request.partSize,
        }),
      },
    );
    return createdPackage('POST /v1/portals/{portal_id}/packages', body);
  }

  /** A fresh package token for a Team package (`GET /v1.1/teams/{team}/packages/{id}`). */
  async refreshPackageToken(teamId: string, apiKey: string, packageId: string): Promise<string> {
    const body = await this.fetchTeamPackage(teamId, apiKey, packageId);
    return createdPackage(TEAM_PACKAGE_ROUTE, body).accessToken;
  }

  /** A Team package's state and a fresh token (`GET /v1.1/teams/{team}/packages/{id}`). */
  async getTeamPackage(
    teamId: string,
    apiKey: string,
    packageId: string,
  ): Promise<PackageSummary & { accessToken: string }> {
    const body = await this.fetchTeamPackage(teamId, apiKey, packageId);
    return {
      ...packageSummary(TEAM_PACKAGE_ROUTE, body),
      accessToken: createdPackage(TEAM_PACKAGE_ROUTE, body).accessToken,
    };
  }

  private fetchTeamPackage(teamId: string, apiKey: string, packageId: string) {
    return this.call<Record<string, unknown>>(
      TEAM_PACKAGE_ROUTE,
      'GET',
      `/v1.1/teams/${encodeURIComponent(teamId)}/packages/${encodeURIComponent(packageId)}`,
      { headers: { 'x-api-key': apiKey } },
    );
  }

  /**
   * Every Team package matching the query (`GET /v1.1/teams/{team}/packages`, pages from 1, 50 a
   * page). `name` is a partial match on MASV's side; callers compare names exactly. A package seen
   * on two pages (the list moved while paging) is returned once.
   */
  async listTeamPackages(teamId: string, apiKey: string, query: PackageQuery): Promise<PackageSummary[]> {
    const route = 'GET /v1.1/teams/{team_id}/packages';
    const limit = 50;
    const found = new Map<string, PackageSummary>();
    for (let page = 1; page <= 100; page++) {
      const body = await this.call<{ metadata?: { total?: unknown }; records?: unknown }>(
        route,
        'GET',
        `/v1.1/teams/${encodeURIComponent(teamId)}/packages`,
        {
          headers: { 'x-api-key': apiKey },
          query: dropUndefined({
            status: query.states,
            name: query.name,
            created_at_start: query.createdAtStart?.toISOString(),
            created_at_end: query.createdAtEnd?.toISOString(),
            page,
            limit,
          }) as Record<string, string | number | string[]>,
        },
      );
      if (!Array.isArray(body?.records))
        throw new MasvProtocolError(`MASV ${route} returned no records array.`);
      for (const record of body.records) {
        const summary = packageSummary(route, record as Record<string, unknown>);
        found.set(summary.id, summary);
      }
      const total = typeof body.metadata?.total === 'number' ? body.metadata.total : 0;
      if (body.records.length < limit || page * limit >= total) break;
    }
    return [...found.values()];
  }

  async addFile(access: PackageAccess, request: AddFileRequest): Promise<AddedFile> {
    const route = 'POST /v1/packages/{package_id}/files';
    const body = await this.packageCall<Record<string, unknown>>(access, route, 'POST', '/files', {
      commit: 'once',
      json: dropUndefined({
        kind: request.kind,
        name: request.name,
        path: request.path,
        last_modified: request.lastModified.toISOString(),
        size: request.size,
        chunk_size: request.partSize,
      }),
    });
    const file = body.file as { id?: unknown } | undefined;
    if (typeof file?.id !== 'string') {
      throw new MasvProtocolError(`MASV ${route} returned no file.id; cannot upload "${request.name}".`);
    }
    const createBlueprint = body.create_blueprint ?? body.createBlueprint;
    return {
      fileId: file.id,
      createBlueprint: createBlueprint ? checkBlueprint(route, createBlueprint) : undefined,
    };
  }

  /** Runs the file's `create_blueprint` (S3 CreateMultipartUpload) and returns its UploadId. */
  async createUpload(createBlueprint: Blueprint): Promise<string> {
    const response = await withRetry(
      () =>
        executeBlueprint(createBlueprint, 'the create_blueprint request', { dispatcher: this.dispatcher }),
      this.retry,
    );
    return parseUploadId(response.text);
  }

  /** Blueprints for parts `start+1 … start+count` (`start` is the 0-based part index). */
  async getPartBlueprints(
    access: PackageAccess,
    fileId: string,
    uploadId: string,
    start: number,
    count: number,
  ): Promise<Blueprint[]> {
    const route = 'POST /v1/packages/{package_id}/files/{file_id}?start&count';
    const body = await this.packageCall<unknown>(
      access,
      route,
      'POST',
      `/files/${encodeURIComponent(fileId)}`,
      { query: { start, count }, json: { upload_id: uploadId } },
    );
    if (!Array.isArray(body) || body.length !== count) {
      throw new MasvProtocolError(
        `MASV ${route} returned ${Array.isArray(body) ? `${body.length} blueprints` : 'no array'} for count=${count}.`,
      );
    }
    return body.map((entry) => checkBlueprint(route, entry));
  }

  /**
   * Streams one part into its blueprint PUT and returns the ETag exactly as storage sent it.
   * Not retried here: the caller re-opens the source range for another attempt.
   */
  async uploadPart(blueprint: Blueprint, body: BlueprintBody, signal?: AbortSignal): Promise<string> {
    const response = await executeBlueprint(blueprint, 'the part upload', {
      dispatcher: this.dispatcher,
      body,
      signal,
    });
    const etag = headerValue(response.headers.etag);
    if (!etag) throw new MasvProtocolError('MASV storage accepted a part but sent no ETag header.');
    return etag;
  }

  /**
   * Finalizes a file; parts are sent in order with both key spellings MASV's sources use. A repeat
   * after a lost answer is safe: MASV answering 409 (or 400 "already finalized") means it is done.
   */
  async finalizeFile(
    access: PackageAccess,
    fileId: string,
    finalize: { uploadId: string; size: number; partSize: number; parts: UploadedPart[] },
  ): Promise<FinalizeOutcome> {
    const parts = [...finalize.parts].sort((a, b) => a.partNumber - b.partNumber);
    return alreadyFinalizedIsDone(
      this.packageCall(
        access,
        'POST /v1/packages/{package_id}/files/{file_id}/finalize',
        'POST',
        `/files/${encodeURIComponent(fileId)}/finalize`,
        {
          json: {
            chunk_extras: parts.map((part) => ({
              part_number: String(part.partNumber),
              partNumber: String(part.partNumber),
              etag: part.etag,
            })),
            file_extras: { upload_id: finalize.uploadId },
            size: finalize.size,
            chunk_size: finalize.partSize,
          },
        },
      ),
    );
  }

  /**
   * Finalizes the package (recipients are notified). 409 or 400 "already finalized" is reported
   * as `already-finalized`; callers that can read the package state confirm it there.
   */
  async finalizePackage(access: PackageAccess): Promise<FinalizeOutcome> {
    return alreadyFinalizedIsDone(
      this.packageCall(access, 'POST /v1/packages/{package_id}/finalize', 'POST', '/finalize'),
    );
  }

  /** Deletes the package; one that is already gone (404/410) counts as deleted. */
  async deletePackage(access: PackageAccess): Promise<void> {
    try {
      await this.packageCall(access, 'DELETE /v1/packages/{package_id}', 'DELETE', '');
    } catch (error) {
      if (!(error instanceof MasvNotFoundError)) throw error;
    }
  }

  /** Creates a download link, emailed by MASV when `email` is given. */
  async createLink(access: PackageAccess, link: { email?: string; password?: string }): Promise<PackageLink> {
    const body = await this.packageCall<Record<string, unknown>>(
      access,
      'POST /v1/packages/{package_id}/links',
      'POST',
      '/links',
      { commit: 'once', json: dropUndefined(link) },
    );
    return {
      id: String(body.id),
      downloadSecret: typeof body.download_secret === 'string' ? body.download_secret : undefined,
    };
  }

  async listFiles(access: PackageAccess): Promise<Array<Record<string, unknown>>> {
    return this.packageCall(access, 'GET /v1/packages/{package_id}/files', 'GET', '/files');
  }

  /** A package-scoped call; on 401 it refreshes the token once (when it can) and tries again. */
  private async packageCall<T>(
    access: PackageAccess,
    route: string,
    method: Dispatcher.HttpMethod,
    subPath: string,
    options: CallOptions = {},
  ): Promise<T> {
    const path = `/v1/packages/${encodeURIComponent(access.packageId)}${subPath}`;
    const attempt = () =>
      this.call<T>(route, method, path, {
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

  private call<T>(route: string, method: Dispatcher.HttpMethod, path: string, options: CallOptions = {}) {
    const query = options.query
      ? `?${new URLSearchParams(
          Object.entries(options.query).flatMap(
            ([k, v]): Array<[string, string]> =>
              Array.isArray(v) ? v.map((item) => [k, item]) : [[k, String(v)]],
          ),
        ).toString()}`
      : '';
    const headers: Record<string, string> = { 'user-agent': this.userAgent, ...options.headers };
    let body: string | undefined;
    if (options.json !== undefined) {
      body = JSON.stringify(options.json);
      headers['content-type'] = 'application/json';
    } else if (method === 'POST') {
      headers['content-type'] = 'application/json';
    }
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
          path: `${path}${query}`,
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
      if (!text) return undefined as T;
      try {
        return JSON.parse(text) as T;
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

function createdPackage(route: string, body: Record<string, unknown> | undefined): CreatedPackage {
  if (typeof body?.id !== 'string' || typeof body.access_token !== 'string') {
    throw new MasvProtocolError(`MASV ${route} returned no package id and access_token.`);
  }
  return { id: body.id, accessToken: body.access_token };
}

function packageSummary(route: string, body: Record<string, unknown> | undefined): PackageSummary {
  if (typeof body?.id !== 'string' || typeof body.state !== 'string') {
    throw new MasvProtocolError(`MASV ${route} returned a package without id and state.`);
  }
  return {
    id: body.id,
    name: typeof body.name === 'string' ? body.name : '',
    description: typeof body.description === 'string' ? body.description : '',
    state: body.state,
    createdAt: typeof body.created_at === 'string' ? body.created_at : '',
    totalFiles: typeof body.total_files === 'number' ? body.total_files : 0,
  };
}

/** A finalize that MASV refuses because it was already done (409, or 400 saying so) is done. */
async function alreadyFinalizedIsDone(call: Promise<unknown>): Promise<FinalizeOutcome> {
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

function checkBlueprint(route: string, value: unknown): Blueprint {
  const bp = value as Partial<Blueprint> | null;
  if (!bp || typeof bp.url !== 'string' || typeof bp.method !== 'string') {
    throw new MasvProtocolError(`MASV ${route} returned a blueprint without url and method.`);
  }
  const headers: Record<string, string> = {};
  for (const [name, headerValue] of Object.entries(bp.headers ?? {})) headers[name] = String(headerValue);
  return { url: bp.url, method: bp.method, headers, body: typeof bp.body === 'string' ? bp.body : '' };
}

function dropUndefined<T extends Record<string, unknown>>(record: T): Partial<T> {
  return Object.fromEntries(Object.entries(record).filter(([, v]) => v !== undefined)) as Partial<T>;
}
