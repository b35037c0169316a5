import type { Dispatcher } from 'undici';
import { MasvNotFoundError, MasvProtocolError } from '../errors.js';
import { withRetry } from '../retry.js';
import { alreadyFinalizedIsDone, blueprint, createdPackage, packageSummary } from './answers.js';
import { type BlueprintBody, executeBlueprint, headerValue } from './blueprint.js';
import {
  addFileBody,
  dropUndefined,
  finalizeFileBody,
  LIST_PAGE_SIZE,
  packageListQuery,
  portalPackageBody,
  teamPackageBody,
} from './requests.js';
import {
  addedFileSchema,
  blueprintsSchema,
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
  FinalizeOutcome,
  PackageAccess,
  PackageLink,
  PackageQuery,
  PackageSpec,
  PackageSummary,
  PortalPackageRequest,
  TeamPackageRequest,
  UploadedPart,
} from './types.js';
import { parseUploadId } from './upload-id.js';

export { DEFAULT_MASV_API_URL } from './defaults.js';

export type { FinalizeOutcome, PackageQuery, PackageSummary } from './types.js';

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
        json: teamPackageBody(request),
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
        json: portalPackageBody(request),
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
        { headers: { 'x-api-key': apiKey }, query: packageListQuery(query, page) },
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
      json: addFileBody(request),
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
   * Finalizes a file (parts in order, `requests.ts`). A repeat
   * after a lost answer is safe: MASV answering 409 (or 400 "already finalized") means it is done.
   */
  async finalizeFile(
    access: PackageAccess,
    fileId: string,
    finalize: { uploadId: string; size: number; partSize: number; parts: UploadedPart[] },
  ): Promise<FinalizeOutcome> {
    return alreadyFinalizedIsDone(
      this.transport.packageCall(
        access,
        ROUTES.finalizeFile,
        'POST',
        `/files/${encodeURIComponent(fileId)}/finalize`,
        { json: finalizeFileBody(finalize) },
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
