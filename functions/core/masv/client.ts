import type { Dispatcher } from 'undici';
import { MasvNotFoundError, MasvProtocolError, MasvValidationError } from '../errors.js';
import { withRetry } from '../retry.js';
import { type BlueprintBody, executeBlueprint, headerValue } from './blueprint.js';
import {
  addedFileSchema,
  blueprintsSchema,
  createdPackageSchema,
  filesSchema,
  linkSchema,
  packagePageSchema,
  packageSchema,
  parseAnswer,
  specSchema,
} from './schemas.js';
import { MasvTransport, type MasvTransportOptions } from './transport.js';
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

export { DEFAULT_MASV_API_URL } from './defaults.js';

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

const ROUTES = {
  spec: 'GET /v1/system/packages/spec',
  createTeamPackage: 'POST /v1/teams/{team_id}/packages',
  createPortalPackage: 'POST /v1/portals/{portal_id}/packages',
  teamPackage: 'GET /v1.1/teams/{team_id}/packages/{package_id}',
  teamPackages: 'GET /v1.1/teams/{team_id}/packages',
  addFile: 'POST /v1/packages/{package_id}/files',
  listFiles: 'GET /v1/packages/{package_id}/files',
  partBlueprints: 'POST /v1/packages/{package_id}/files/{file_id}?start&count',
  finalizeFile: 'POST /v1/packages/{package_id}/files/{file_id}/finalize',
  finalizePackage: 'POST /v1/packages/{package_id}/finalize',
  deletePackage: 'DELETE /v1/packages/{package_id}',
  createLink: 'POST /v1/packages/{package_id}/links',
} as const;

const LIST_PAGE_SIZE = 50;

/**
 * Typed client of MASV's upload API: one method per route, each answer checked against its schema
 * (`schemas.ts`); HTTP, retries and token refresh are the transport's (`transport.ts`). Plain
 * dependencies, no AWS imports: handlers, the local runner and the benchmarks all use it.
 *
 * @example
 * const masv = new MasvClient({ baseUrl: 'http://127.0.0.1:4590' });
 * const spec = await masv.getSpec();
 * const pkg = await masv.createTeamPackage(teamId, apiKey, { name, description, recipients });
 */
export class MasvClient {
  private readonly transport: MasvTransport;
  private spec?: Promise<PackageSpec>;

  constructor(options: MasvTransportOptions = {}) {
    this.transport = new MasvTransport(options);
  }

  get baseUrl(): string {
    return this.transport.baseUrl;
  }

  private get dispatcher(): Dispatcher {
    return this.transport.dispatcher;
  }

  /** MASV's part limits, fetched once per client and cached. */
  getSpec(): Promise<PackageSpec> {
    this.spec ??= this.transport.call(ROUTES.spec, 'GET', '/v1/system/packages/spec').then((body) => {
      const spec = parseAnswer(ROUTES.spec, specSchema, body);
      return {
        maxPartCount: spec.max_chunk_count,
        maxPartSize: spec.max_chunk_size,
        minPartSize: spec.min_chunk_size,
      };
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
    const body = await this.transport.call(
      ROUTES.createTeamPackage,
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
    return createdPackage(ROUTES.createTeamPackage, body);
  }

  async createPortalPackage(portalId: string, request: PortalPackageRequest): Promise<CreatedPackage> {
    const headers: Record<string, string> = {};
    if (request.accessCode !== undefined) headers['x-access-code'] = encodeURIComponent(request.accessCode);
    const body = await this.transport.call(
      ROUTES.createPortalPackage,
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
    return createdPackage(ROUTES.createPortalPackage, body);
  }

  /** A fresh package token for a Team package (`GET /v1.1/teams/{team}/packages/{id}`). */
  async refreshPackageToken(teamId: string, apiKey: string, packageId: string): Promise<string> {
    const body = await this.fetchTeamPackage(teamId, apiKey, packageId);
    return createdPackage(ROUTES.teamPackage, body).token;
  }

  /** A Team package's state and a fresh token (`GET /v1.1/teams/{team}/packages/{id}`). */
  async getTeamPackage(
    teamId: string,
    apiKey: string,
    packageId: string,
  ): Promise<PackageSummary & { token: string }> {
    const body = await this.fetchTeamPackage(teamId, apiKey, packageId);
    return {
      ...packageSummary(parseAnswer(ROUTES.teamPackage, packageSchema, body)),
      token: createdPackage(ROUTES.teamPackage, body).token,
    };
  }

  private fetchTeamPackage(teamId: string, apiKey: string, packageId: string) {
    return this.transport.call(
      ROUTES.teamPackage,
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
    const found = new Map<string, PackageSummary>();
    for (let page = 1; page <= 100; page++) {
      const body = await this.transport.call(
        ROUTES.teamPackages,
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
            limit: LIST_PAGE_SIZE,
          }) as Record<string, string | number | string[]>,
        },
      );
      const { records, metadata } = parseAnswer(ROUTES.teamPackages, packagePageSchema, body);
      for (const record of records) found.set(record.id, packageSummary(record));
      if (records.length < LIST_PAGE_SIZE || page * LIST_PAGE_SIZE >= (metadata?.total ?? 0)) break;
    }
    return [...found.values()];
  }

  async addFile(access: PackageAccess, request: AddFileRequest): Promise<AddedFile> {
    const body = await this.transport.packageCall(access, ROUTES.addFile, 'POST', '/files', {
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
    const added = parseAnswer(ROUTES.addFile, addedFileSchema, body);
    const createBlueprint = added.create_blueprint ?? added.createBlueprint;
    return {
      fileId: added.file.id,
      createBlueprint: createBlueprint ? blueprint(createBlueprint) : undefined,
    };
  }

  /** Runs the file's `create_blueprint` (S3 CreateMultipartUpload) and returns its UploadId. */
  async createUpload(createBlueprint: Blueprint): Promise<string> {
    const response = await withRetry(
      () =>
        executeBlueprint(createBlueprint, 'the create_blueprint request', { dispatcher: this.dispatcher }),
      this.transport.retry,
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
    const body = await this.transport.packageCall(
      access,
      ROUTES.partBlueprints,
      'POST',
      `/files/${encodeURIComponent(fileId)}`,
      { query: { start, count }, json: { upload_id: uploadId } },
    );
    const blueprints = parseAnswer(ROUTES.partBlueprints, blueprintsSchema, body);
    if (blueprints.length !== count) {
      throw new MasvProtocolError(
        `MASV ${ROUTES.partBlueprints} returned ${blueprints.length} blueprints for count=${count}.`,
      );
    }
    return blueprints.map(blueprint);
  }

  /**
   * Streams one part into its blueprint PUT and returns the ETag exactly as storage sent it.
   * Not retried here: the caller re-opens the source range for another attempt.
   */
  async uploadPart(part: Blueprint, body: BlueprintBody, signal?: AbortSignal): Promise<string> {
    const response = await executeBlueprint(part, 'the part upload', {
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
      this.transport.packageCall(
        access,
        ROUTES.finalizeFile,
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
   * as `already-finalized`.
   */
  async finalizePackage(access: PackageAccess): Promise<FinalizeOutcome> {
    return alreadyFinalizedIsDone(
      this.transport.packageCall(access, ROUTES.finalizePackage, 'POST', '/finalize'),
    );
  }

  /** Deletes the package; one that is already gone (404/410) counts as deleted. */
  async deletePackage(access: PackageAccess): Promise<void> {
    try {
      await this.transport.packageCall(access, ROUTES.deletePackage, 'DELETE', '');
    } catch (error) {
      if (!(error instanceof MasvNotFoundError)) throw error;
    }
  }

  /** Creates a download link, emailed by MASV when `email` is given. */
  async createLink(access: PackageAccess, link: { email?: string; password?: string }): Promise<PackageLink> {
    const body = await this.transport.packageCall(access, ROUTES.createLink, 'POST', '/links', {
      commit: 'once',
      json: dropUndefined(link),
    });
    const created = parseAnswer(ROUTES.createLink, linkSchema, body);
    return { id: String(created.id), downloadSecret: created.download_secret };
  }

  async listFiles(access: PackageAccess): Promise<Array<Record<string, unknown>>> {
    const body = await this.transport.packageCall(access, ROUTES.listFiles, 'GET', '/files');
    return parseAnswer(ROUTES.listFiles, filesSchema, body);
  }
}

function createdPackage(route: string, body: unknown): CreatedPackage {
  const created = parseAnswer(route, createdPackageSchema, body);
  return { id: created.id, token: created.access_token };
}

function packageSummary(record: {
  id: string;
  state: string;
  name?: string;
  description?: string;
  created_at?: string;
  total_files?: number;
}): PackageSummary {
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
function blueprint(value: {
  url: string;
  method: string;
  headers?: Record<string, unknown> | null;
  body?: string | null;
}): Blueprint {
  const headers: Record<string, string> = {};
  for (const [name, headerValue] of Object.entries(value.headers ?? {})) headers[name] = String(headerValue);
  return { url: value.url, method: value.method, headers, body: value.body ?? '' };
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

function dropUndefined<T extends Record<string, unknown>>(record: T): Partial<T> {
  return Object.fromEntries(Object.entries(record).filter(([, v]) => v !== undefined)) as Partial<T>;
}
