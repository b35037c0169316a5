import type { IncomingMessage } from 'node:http';
import { isoTime, ulid, ZERO_TIME } from './ids.js';
import type { EmuFile, EmulatorState, EmuPackage } from './model.js';
import { presign } from './signing.js';
import { encryptionCreateHeaders } from './storage.js';
import { signPackageToken, verifyPackageToken } from './tokens.js';

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

type Handler = (ctx: ApiContext) => ApiReply | Promise<ApiReply>;

export interface Route {
  method: string;
  pattern: RegExp;
  /** Route template for logs, counters and faults; carries no ids or secrets. */
  name: string;
  packageScoped: boolean;
  handler: Handler;
}

const ID = '([^/]+)';
const route = (
  method: string,
  path: string,
  name: string,
  handler: Handler,
  packageScoped = false,
): Route => ({
  method,
  pattern: new RegExp(`^${path.replace(/\{[a-z_]+\}/g, ID)}$`),
  name: `${method} ${name}`,
  packageScoped,
  handler,
});

export const routes: Route[] = [
  route('GET', '/v1/system/packages/spec', '/v1/system/packages/spec', getSpec),
  route('POST', '/v1/teams/{team_id}/packages', '/v1/teams/{team_id}/packages', createTeamPackage),
  route('GET', '/v1.1/teams/{team_id}/packages', '/v1.1/teams/{team_id}/packages', listTeamPackages),
  route(
    'GET',
    '/v1.1/teams/{team_id}/packages/{package_id}',
    '/v1.1/teams/{team_id}/packages/{package_id}',
    getTeamPackage,
  ),
  route(
    'GET',
    '/v1/subdomains/portals/{subdomain}',
    '/v1/subdomains/portals/{subdomain}',
    getPortalBySubdomain,
  ),
  route('POST', '/v1/portals/{portal_id}/packages', '/v1/portals/{portal_id}/packages', createPortalPackage),
  route('POST', '/v1/packages/{package_id}/files', '/v1/packages/{package_id}/files', addFile, true),
  route('GET', '/v1/packages/{package_id}/files', '/v1/packages/{package_id}/files', listFiles, true),
  route(
    'POST',
    '/v1/packages/{package_id}/files/{file_id}',
    '/v1/packages/{package_id}/files/{file_id}',
    partBlueprints,
    true,
  ),
  route(
    'POST',
    '/v1/packages/{package_id}/files/{file_id}/finalize',
    '/v1/packages/{package_id}/files/{file_id}/finalize',
    finalizeFile,
    true,
  ),
  route(
    'DELETE',
    '/v1/packages/{package_id}/files/{file_id}',
    '/v1/packages/{package_id}/files/{file_id}',
    deleteFile,
    true,
  ),
  route(
    'POST',
    '/v1/packages/{package_id}/finalize',
    '/v1/packages/{package_id}/finalize',
    finalizePackage,
    true,
  ),
  route('DELETE', '/v1/packages/{package_id}', '/v1/packages/{package_id}', deletePackage, true),
  route('POST', '/v1/packages/{package_id}/links', '/v1/packages/{package_id}/links', createLink, true),
];

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

function getSpec({ state }: ApiContext): ApiReply {
  return { status: 200, body: state.settings.spec };
}

function requireApiKey({ state, req }: ApiContext, teamId: string) {
  const key = req.headers['x-api-key'];
  if (typeof key !== 'string' || key === '') throw new ApiError(401, 'missing X-API-KEY header');
  if (key !== state.accounts.apiKey) throw new ApiError(401, 'invalid api key');
  if (teamId !== state.accounts.teamId) throw new ApiError(403, 'api key does not belong to this team');
}

function mintToken(state: EmulatorState, pkg: EmuPackage): string {
  // iat never goes back below the revocation cut-off, so a token minted right after a
  // token-expiry fault is valid even within the same millisecond.
  const iat = Math.max(state.now() / 1000, pkg.tokensValidFrom);
  return signPackageToken(state.tokenSecret, {
    typ: 'package',
    sub: pkg.id,
    lvl: 'f',
    imp: false,
    iat,
    exp: Math.floor(state.now() / 1000 + state.settings.tokenTtlSeconds),
  });
}

/** Checks `X-Package-Token` for the package in the path; the token-expiry fault lands here. */
export function authorizePackage(ctx: ApiContext, expireNow: boolean): EmuPackage {
  const { state, req } = ctx;
  const packageId = ctx.params[0]!;
  const token = req.headers['x-package-token'];
  if (typeof token !== 'string' || token === '') throw new ApiError(401, 'missing X-Package-Token header');
  const check = verifyPackageToken(state.tokenSecret, token, state.now() / 1000);
  if (!check.ok) throw new ApiError(401, check.reason);
  if (check.claims.sub !== packageId) throw new ApiError(401, 'token does not belong to this package');
  if (check.claims.lvl !== 'f') throw new ApiError(403, 'token does not allow uploads');
  const pkg = state.packages.get(packageId);
  if (!pkg || pkg.state === 'deleted') throw new ApiError(404, 'package not found');
  if (state.now() > Date.parse(pkg.createdAt) + state.settings.packageTtlSeconds * 1000) {
    throw new ApiError(410, 'package has expired');
  }
  if (expireNow) pkg.tokensValidFrom = Math.max(state.now() / 1000, check.claims.iat + 0.001);
  if (check.claims.iat < pkg.tokensValidFrom) throw new ApiError(401, 'token is expired');
  return pkg;
}

function requireNotFinalized(pkg: EmuPackage) {
  if (pkg.state === 'finalized')
    throw new ApiError(409, 'package is finalized and can no longer be modified');
}

function body(ctx: ApiContext): Record<string, unknown> {
  if (!ctx.body || typeof ctx.body !== 'object' || Array.isArray(ctx.body)) {
    throw new ApiError(400, 'request body must be a JSON object');
  }
  return ctx.body as Record<string, unknown>;
}

function requiredString(record: Record<string, unknown>, field: string, allowEmpty = false): string {
  const value = record[field];
  if (value === undefined || value === null) throw new ApiError(400, `${field} is required`);
  if (typeof value !== 'string') throw new ApiError(400, `${field} must be a string`);
  if (!allowEmpty && value.trim() === '') throw new ApiError(400, `${field} must not be empty`);
  return value;
}

function optionalInteger(record: Record<string, unknown>, field: string, min = 0): number | undefined {
  const value = record[field];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) {
    throw new ApiError(400, `${field} must be an integer ≥ ${min}`);
  }
  return value;
}

function checkPartSize(state: EmulatorState, value: number | undefined, field = 'chunk_size') {
  const { min_chunk_size: min, max_chunk_size: max } = state.settings.spec;
  if (value !== undefined && (value < min || value > max)) {
    throw new ApiError(400, `${field} ${value} is outside the allowed range [${min}, ${max}]`);
  }
}

function changeState(state: EmulatorState, pkg: EmuPackage, to: EmuPackage['state']) {
  const at = isoTime(state.now());
  pkg.stateChanges.push({ at, from: pkg.state, to });
  pkg.state = to;
  pkg.updatedAt = at;
}

function newPackage(
  state: EmulatorState,
  fields: Omit<
    EmuPackage,
    'id' | 'state' | 'stateChanges' | 'files' | 'links' | 'tokensValidFrom' | 'createdAt' | 'updatedAt'
  >,
) {
  const now = isoTime(state.now());
  const pkg: EmuPackage = {
    ...fields,
    id: ulid(state.now()),
    state: 'new',
    stateChanges: [{ at: now, from: null, to: 'new' }],
    files: new Map(),
    links: [],
    tokensValidFrom: 0,
    createdAt: now,
    updatedAt: now,
  };
  state.packages.set(pkg.id, pkg);
  return pkg;
}

export function packageView(state: EmulatorState, pkg: EmuPackage, withToken: boolean) {
  return {
    id: pkg.id,
    name: pkg.name,
    description: pkg.description,
    ...(withToken ? { access_token: mintToken(state, pkg) } : {}),
    state: pkg.state,
    sender: pkg.sender ?? '',
    access_limit: pkg.accessLimit ?? 0,
    unlimited_storage: pkg.unlimitedStorage,
    created_at: pkg.createdAt,
    updated_at: pkg.updatedAt,
    expiry: isoTime(Date.parse(pkg.createdAt) + state.settings.packageTtlSeconds * 1000),
    custom_expiry: ZERO_TIME,
    extra_storage_days: 0,
    extras: {},
    links: pkg.links.map((l) => l.id),
    progress_channels: [],
    ...(pkg.owner.kind === 'portal' ? { portal_id: pkg.owner.portalId } : {}),
    total_files: [...pkg.files.values()].filter((f) => f.kind === 'file').length,
    size: [...pkg.files.values()].reduce((sum, f) => sum + (f.size ?? 0), 0),
  };
}

function createTeamPackage(ctx: ApiContext): ApiReply {
  requireApiKey(ctx, ctx.params[0]!);
  const b = body(ctx);
  const name = requiredString(b, 'name');
  const description = requiredString(b, 'description', true);
  const recipients = b.recipients;
  if (recipients === undefined) throw new ApiError(400, 'recipients is required');
  if (!Array.isArray(recipients) || recipients.length === 0) {
    throw new ApiError(400, 'recipients must be a non-empty array of email addresses');
  }
  for (const r of recipients) {
    if (typeof r !== 'string' || !EMAIL.test(r))
      throw new ApiError(400, `recipient ${JSON.stringify(r)} is not a valid email address`);
  }
  if (b.password !== undefined && typeof b.password !== 'string')
    throw new ApiError(400, 'password must be a string');
  if (b.unlimited_storage !== undefined && typeof b.unlimited_storage !== 'boolean') {
    throw new ApiError(400, 'unlimited_storage must be a boolean');
  }
  const partSize = optionalInteger(b, 'chunk_size', 1);
  checkPartSize(ctx.state, partSize);
  const pkg = newPackage(ctx.state, {
    owner: { kind: 'team', teamId: ctx.params[0]! },
    name,
    description,
    recipients: recipients as string[],
    password: b.password as string | undefined,
    accessLimit: optionalInteger(b, 'access_limit'),
    unlimitedStorage: b.unlimited_storage === true,
    partSize: partSize ?? 100 * 1024 * 1024,
  });
  return { status: 201, body: packageView(ctx.state, pkg, true) };
}

const PACKAGE_STATES = ['new', 'finalized', 'expired', 'archived'];

/** `new`, `finalized` or `expired` as MASV reports it (expiry is derived from the creation time). */
function reportedState(state: EmulatorState, pkg: EmuPackage) {
  if (
    pkg.state !== 'deleted' &&
    state.now() > Date.parse(pkg.createdAt) + state.settings.packageTtlSeconds * 1000
  )
    return 'expired';
  return pkg.state;
}

function timeFilter(query: URLSearchParams, field: string): number | undefined {
  const value = query.get(field);
  if (value === null || value === '') return undefined;
  const at = Date.parse(value);
  if (!ISO_WITH_ZONE.test(value) || Number.isNaN(at))
    throw new ApiError(400, `${field} must be an ISO 8601 UTC time such as 2020-10-30T17:37:00.998Z`);
  return at;
}

/**
 * `GET /v1.1/teams/{team_id}/packages`: the team's packages, newest first, filtered as MASV's
 * docs describe (`status` defaults to finalized and expired; `name` matches part of the name;
 * `created_at_start/end`), paged with `page` (from 1) and `limit` (1–50). Records carry the
 * documented package fields only (no recipients, no token).
 */
function listTeamPackages(ctx: ApiContext): ApiReply {
  requireApiKey(ctx, ctx.params[0]!);
  const { query, state } = ctx;
  const statuses = query
    .getAll('status')
    .flatMap((s) => s.split(','))
    .filter(Boolean);
  for (const s of statuses)
    if (!PACKAGE_STATES.includes(s))
      throw new ApiError(400, `status ${JSON.stringify(s)} is not one of ${PACKAGE_STATES.join(', ')}`);
  const wanted = statuses.length > 0 ? statuses : ['finalized', 'expired'];
  const limit = query.has('limit') ? Number(query.get('limit')) : 25;
  const page = query.has('page') ? Number(query.get('page')) : 1;
  if (!Number.isInteger(limit) || limit < 1 || limit > 50)
    throw new ApiError(400, 'limit must be an integer from 1 to 50');
  if (!Number.isInteger(page) || page < 1)
    throw new ApiError(400, 'page must be an integer ≥ 1 (the first page is 1)');
  const name = query.get('name');
  const from = timeFilter(query, 'created_at_start');
  const to = timeFilter(query, 'created_at_end');
  const matching = [...state.packages.values()]
    .filter((p) => p.owner.kind === 'team' && p.owner.teamId === ctx.params[0])
    .filter((p) => p.state !== 'deleted' && wanted.includes(reportedState(state, p)))
    .filter((p) => name === null || name === '' || p.name.toLowerCase().includes(name.toLowerCase()))
    .filter((p) => from === undefined || Date.parse(p.createdAt) >= from)
    .filter((p) => to === undefined || Date.parse(p.createdAt) <= to)
    .sort((a, b) => b.createdAt.localeCompare(a.createdAt) || b.id.localeCompare(a.id));
  const records = matching
    .slice((page - 1) * limit, page * limit)
    .map((p) => ({ ...packageView(state, p, false), state: reportedState(state, p) }));
  return { status: 200, body: { metadata: { total: matching.length }, records } };
}

function getTeamPackage(ctx: ApiContext): ApiReply {
  requireApiKey(ctx, ctx.params[0]!);
  const pkg = ctx.state.packages.get(ctx.params[1]!);
  if (!pkg || pkg.state === 'deleted' || pkg.owner.kind !== 'team' || pkg.owner.teamId !== ctx.params[0])
    throw new ApiError(404, 'package not found');
  return {
    status: 200,
    body: { ...packageView(ctx.state, pkg, true), state: reportedState(ctx.state, pkg) },
  };
}

interface PortalInfo {
  id: string;
  subdomain: string;
  accessCode?: string;
  requiresForm: boolean;
}

function portals(state: EmulatorState): PortalInfo[] {
  const a = state.accounts;
  return [
    { id: a.portalId, subdomain: a.portalSubdomain, requiresForm: false },
    {
      id: a.protectedPortalId,
      subdomain: a.protectedPortalSubdomain,
      accessCode: a.accessCode,
      requiresForm: false,
    },
    { id: a.formPortalId, subdomain: a.formPortalSubdomain, requiresForm: true },
  ];
}

function getPortalBySubdomain(ctx: ApiContext): ApiReply {
  const portal = portals(ctx.state).find((p) => p.subdomain === ctx.params[0]);
  if (!portal) throw new ApiError(404, 'portal not found');
  return {
    status: 200,
    body: {
      id: portal.id,
      subdomain: portal.subdomain,
      name: portal.subdomain,
      active: true,
      has_access_code: portal.accessCode !== undefined,
      custom_form_enabled: portal.requiresForm,
    },
  };
}

function createPortalPackage(ctx: ApiContext): ApiReply {
  const portal = portals(ctx.state).find((p) => p.id === ctx.params[0]);
  if (!portal) throw new ApiError(404, 'portal not found');
  if (portal.accessCode !== undefined) {
    const given = ctx.req.headers['x-access-code'];
    if (typeof given !== 'string' || given === '')
      throw new ApiError(401, 'this portal requires an access code (X-Access-Code)');
    let decoded: string;
    try {
      decoded = decodeURIComponent(given);
    } catch {
      throw new ApiError(400, 'X-Access-Code must be URI encoded');
    }
    if (decoded !== portal.accessCode) throw new ApiError(401, 'invalid access code');
  }
  const b = body(ctx);
  const name = requiredString(b, 'name');
  const description = requiredString(b, 'description', true);
  const sender = requiredString(b, 'sender');
  if (!EMAIL.test(sender))
    throw new ApiError(400, `sender ${JSON.stringify(sender)} is not a valid email address`);
  const formDataId = b.form_data_id;
  if (portal.requiresForm && (typeof formDataId !== 'string' || formDataId === '')) {
    throw new ApiError(400, 'form_data_id is required: this portal has a custom form');
  }
  const partSize = optionalInteger(b, 'chunk_size', 1);
  checkPartSize(ctx.state, partSize);
  const pkg = newPackage(ctx.state, {
    owner: { kind: 'portal', portalId: portal.id },
    name,
    description,
    recipients: [],
    sender,
    formDataId: typeof formDataId === 'string' ? formDataId : undefined,
    unlimitedStorage: false,
    partSize: partSize ?? 100 * 1024 * 1024,
  });
  return { status: 201, body: packageView(ctx.state, pkg, true) };
}

function expectedPartCount(state: EmulatorState, file: EmuFile) {
  if (file.size === undefined) return state.settings.spec.max_chunk_count;
  return Math.max(1, Math.ceil(file.size / file.partSize));
}

function fileView(file: EmuFile) {
  return {
    id: file.id,
    kind: file.kind,
    name: file.name,
    path: file.path,
    size: file.size ?? 0,
    last_modified: file.lastModified,
    virus_detected: false,
    created_at: file.createdAt,
  };
}

const ISO_WITH_ZONE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

function addFile(ctx: ApiContext): ApiReply {
  const pkg = ctx.pkg!;
  requireNotFinalized(pkg);
  const { state } = ctx;
  const b = body(ctx);
  const kind = b.kind;
  if (kind !== 'file' && kind !== 'directory') throw new ApiError(400, 'kind must be "file" or "directory"');
  const name = requiredString(b, 'name');
  if (name.includes('/')) throw new ApiError(400, 'name must not contain "/": put folders in path');
  const path = requiredString(b, 'path', true);
  const lastModified = requiredString(b, 'last_modified');
  if (!ISO_WITH_ZONE.test(lastModified) || Number.isNaN(Date.parse(lastModified))) {
    throw new ApiError(400, 'last_modified must be an ISO 8601 UTC time such as 2020-10-30T17:37:00.998Z');
  }
  const size = optionalInteger(b, 'size');
  const partSize = optionalInteger(b, 'chunk_size', 1) ?? pkg.partSize;
  checkPartSize(state, partSize);
  if (kind === 'directory' && size !== undefined && size !== 0)
    throw new ApiError(400, 'a directory must have size 0');
  if (size !== undefined && Math.ceil(size / partSize) > state.settings.spec.max_chunk_count) {
    throw new ApiError(
      400,
      `size ${size} needs ${Math.ceil(size / partSize)} chunks of ${partSize} bytes, more than max_chunk_count ${state.settings.spec.max_chunk_count}`,
    );
  }
  const file: EmuFile = {
    id: ulid(state.now()),
    packageId: pkg.id,
    kind,
    name,
    path,
    size: kind === 'directory' ? 0 : size,
    lastModified,
    partSize,
    state: 'new',
    createHeaders: {
      ...encryptionCreateHeaders(state.settings.storageEncryption ?? 'SSE-S3'),
      'x-amz-meta-masv-file-id': '',
    },
    createdAt: isoTime(state.now()),
  };
  file.createHeaders['x-amz-meta-masv-file-id'] = file.id;
  pkg.files.set(file.id, file);
  pkg.updatedAt = file.createdAt;
  const { spec } = state.settings;
  const withBlueprint = kind === 'file' || state.settings.directoryBlueprint;
  return {
    status: 201,
    body: {
      file: fileView(file),
      ...(withBlueprint
        ? {
            create_blueprint: {
              url: presign(
                state.signingKey,
                state.storageUrl,
                'POST',
                storagePath(file),
                [['uploads', '']],
                state.now(),
                state.settings.urlTtlSeconds,
              ),
              method: 'POST',
              headers: file.createHeaders,
              body: '',
            },
          }
        : {}),
      max_chunks_count: spec.max_chunk_count,
      max_chunk_size: spec.max_chunk_size,
      min_chunk_size: spec.min_chunk_size,
    },
  };
}

function storagePath(file: EmuFile) {
  return `/storage/masv-emulator/${encodeURIComponent(file.packageId)}/${encodeURIComponent(file.id)}`;
}

function findFile(pkg: EmuPackage, fileId: string): EmuFile {
  const file = pkg.files.get(fileId);
  if (!file) throw new ApiError(404, 'file not found');
  return file;
}

function listFiles(ctx: ApiContext): ApiReply {
  const pkg = ctx.pkg!;
  return { status: 200, body: [...pkg.files.values()].map(fileView) };
}

function partBlueprints(ctx: ApiContext): ApiReply {
  const pkg = ctx.pkg!;
  requireNotFinalized(pkg);
  const { state } = ctx;
  const file = findFile(pkg, ctx.params[1]!);
  if (file.state === 'finalized') throw new ApiError(409, 'file is finalized');
  const b = body(ctx);
  const uploadId = requiredString(b, 'upload_id');
  if (!file.uploadId) throw new ApiError(400, 'the file has no upload yet: run its create_blueprint first');
  if (uploadId !== file.uploadId) throw new ApiError(400, "upload_id does not match this file's upload");
  const start = Number(ctx.query.get('start'));
  const count = Number(ctx.query.get('count'));
  if (!ctx.query.has('start') || !Number.isInteger(start) || start < 0) {
    throw new ApiError(400, 'start must be an integer ≥ 0 (zero-based chunk index)');
  }
  if (!ctx.query.has('count') || !Number.isInteger(count) || count < 1)
    throw new ApiError(400, 'count must be an integer ≥ 1');
  if (count > state.settings.maxBlueprintWindow) {
    throw new ApiError(
      400,
      `count ${count} exceeds the maximum of ${state.settings.maxBlueprintWindow} chunk URLs per request`,
    );
  }
  const total = expectedPartCount(state, file);
  if (start + count > total) {
    throw new ApiError(400, `chunks ${start}..${start + count - 1} are outside this file's ${total} chunks`);
  }
  const blueprints = [];
  for (let i = 0; i < count; i++) {
    const url = presign(
      state.signingKey,
      state.storageUrl,
      'PUT',
      storagePath(file),
      [
        ['partNumber', String(start + i + 1)],
        ['uploadId', file.uploadId],
      ],
      state.now(),
      state.settings.urlTtlSeconds,
    );
    blueprints.push({ url, method: 'PUT', headers: {}, body: '' });
  }
  return { status: 200, body: blueprints };
}

function partNumberOf(state: EmulatorState, entry: Record<string, unknown>, index: number): number {
  const keys = state.settings.partNumberKeys;
  const camel = keys === 'part_number' ? undefined : entry.partNumber;
  const snake = keys === 'partNumber' ? undefined : entry.part_number;
  if (camel !== undefined && snake !== undefined && String(camel) !== String(snake)) {
    throw new ApiError(
      400,
      `chunk_extras[${index}] has partNumber ${String(camel)} and part_number ${String(snake)}, which disagree`,
    );
  }
  const value = camel ?? snake;
  if (camel === undefined && snake !== undefined && index === 0) {
    state.log(
      "finalize used part_number (the upload reference's spelling) without partNumber; accepted leniently",
    );
  }
  const accepted = keys === 'both' ? 'partNumber or part_number' : keys;
  if (value === undefined) throw new ApiError(400, `chunk_extras[${index}] needs ${accepted}`);
  const n = typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 1) {
    throw new ApiError(400, `chunk_extras[${index}] part number must be a positive integer (as a string)`);
  }
  return n;
}

async function finalizeFile(ctx: ApiContext): Promise<ApiReply> {
  const pkg = ctx.pkg!;
  const { state } = ctx;
  const file = findFile(pkg, ctx.params[1]!);
  if (file.state === 'finalized') {
    if (state.settings.repeatFinalize === 'idempotent') return { status: 204 };
    throw new ApiError(409, 'file is already finalized');
  }
  requireNotFinalized(pkg);
  const b = body(ctx);
  const extras = b.chunk_extras;
  if (!Array.isArray(extras)) throw new ApiError(400, 'chunk_extras is required and must be an array');
  const fileExtras = b.file_extras as Record<string, unknown> | undefined;
  if (!fileExtras || typeof fileExtras !== 'object')
    throw new ApiError(400, 'file_extras.upload_id is required');
  const uploadId = requiredString(fileExtras, 'upload_id');
  const size = optionalInteger(b, 'size');
  if (size === undefined) throw new ApiError(400, 'size is required');
  if (file.size !== undefined && size !== file.size) {
    throw new ApiError(
      400,
      `size ${size} differs from the ${file.size} bytes declared when the file was added`,
    );
  }
  const chunkSize = optionalInteger(b, 'chunk_size', 1);
  if (chunkSize !== undefined && chunkSize !== file.partSize) {
    throw new ApiError(400, `chunk_size ${chunkSize} differs from the file's chunk size ${file.partSize}`);
  }
  if (uploadId !== file.uploadId)
    throw new ApiError(400, "file_extras.upload_id does not match this file's upload");
  const upload = state.store.uploads.get(uploadId);
  if (!upload) throw new ApiError(400, 'NoSuchUpload: the upload does not exist');
  const parts = extras.map((entry, index) => {
    if (!entry || typeof entry !== 'object')
      throw new ApiError(400, `chunk_extras[${index}] must be an object`);
    const record = entry as Record<string, unknown>;
    if (typeof record.etag !== 'string' || record.etag === '')
      throw new ApiError(400, `chunk_extras[${index}].etag is required`);
    return { partNumber: partNumberOf(state, record, index), etag: record.etag };
  });
  const result = state.store.complete(upload, parts, state.settings.spec.min_chunk_size, size);
  if (!result.ok) throw new ApiError(400, result.message);
  file.size = size;
  file.state = 'finalized';
  file.finalParts = result.parts;
  pkg.updatedAt = isoTime(state.now());
  return { status: 204 };
}

function deleteFile(ctx: ApiContext): ApiReply {
  const pkg = ctx.pkg!;
  requireNotFinalized(pkg);
  const file = findFile(pkg, ctx.params[1]!);
  pkg.files.delete(file.id);
  if (file.uploadId) ctx.state.store.uploads.delete(file.uploadId);
  return { status: 204 };
}

function finalizePackage(ctx: ApiContext): ApiReply {
  const pkg = ctx.pkg!;
  if (pkg.state === 'finalized') {
    if (ctx.state.settings.repeatFinalize === 'idempotent') return { status: 204 };
    throw new ApiError(409, 'package is already finalized');
  }
  const files = [...pkg.files.values()].filter((f) => f.kind === 'file');
  if (!files.some((f) => f.state === 'finalized')) throw new ApiError(400, 'package has no finalized file');
  const pending = files.find((f) => f.state !== 'finalized');
  if (pending) throw new ApiError(400, `file ${pending.id} (${pending.name}) is not finalized`);
  changeState(ctx.state, pkg, 'finalized');
  return { status: 204 };
}

async function deletePackage(ctx: ApiContext): Promise<ApiReply> {
  const pkg = ctx.pkg!;
  changeState(ctx.state, pkg, 'deleted');
  await ctx.state.store.purgePackage(pkg.id);
  for (const file of pkg.files.values()) file.finalParts = undefined;
  return { status: 204 };
}

function createLink(ctx: ApiContext): ApiReply {
  const pkg = ctx.pkg!;
  const b = body(ctx);
  if (b.email !== undefined && (typeof b.email !== 'string' || !EMAIL.test(b.email))) {
    throw new ApiError(400, `email ${JSON.stringify(b.email)} is not a valid email address`);
  }
  if (b.password !== undefined && typeof b.password !== 'string')
    throw new ApiError(400, 'password must be a string');
  const link = { id: ulid(ctx.state.now()), email: b.email as string | undefined };
  pkg.links.push(link);
  return {
    status: 201,
    body: {
      id: link.id,
      email: link.email ?? '',
      active: pkg.state === 'finalized',
      access_limit: pkg.accessLimit ?? 0,
      access_limit_enabled: pkg.accessLimit !== undefined,
      download_secret: ulid(ctx.state.now()).toLowerCase(),
      expiry: packageView(ctx.state, pkg, false).expiry,
      password: b.password ? '****' : '',
    },
  };
}
