import { isoTime, ulid, ZERO_TIME } from '../ids.js';
import type { EmulatorState, EmuPackage } from '../model.js';
import { mintToken, requireApiKey } from './auth.js';
import {
  type ApiContext,
  ApiError,
  type ApiReply,
  body,
  ISO_WITH_ZONE,
  optionalInteger,
  requestedPartSize,
  requiredString,
  requireEmail,
} from './http.js';

export function getSpec({ state }: ApiContext): ApiReply {
  return { status: 200, body: state.settings.spec };
}

function changeState(state: EmulatorState, pkg: EmuPackage, to: EmuPackage['state']) {
  const at = isoTime(state.now());
  pkg.stateChanges.push({ at, from: pkg.state, to });
  pkg.state = to;
  pkg.updatedAt = at;
}

/** A package's part size when its creation names no `chunk_size`. */
const DEFAULT_PART_SIZE = 100 * 1024 * 1024;

export function newPackage(
  state: EmulatorState,
  fields: Omit<
    EmuPackage,
    | 'id'
    | 'state'
    | 'stateChanges'
    | 'files'
    | 'links'
    | 'tokensValidFrom'
    | 'createdAt'
    | 'updatedAt'
    | 'partSize'
  > & { partSize: number | undefined },
) {
  const now = isoTime(state.now());
  const pkg: EmuPackage = {
    ...fields,
    partSize: fields.partSize ?? DEFAULT_PART_SIZE,
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

export function createTeamPackage(ctx: ApiContext): ApiReply {
  requireApiKey(ctx, ctx.params[0]!);
  const b = body(ctx);
  const name = requiredString(b, 'name');
  const description = requiredString(b, 'description', true);
  const recipients = b.recipients;
  if (recipients === undefined) throw new ApiError(400, 'recipients is required');
  if (!Array.isArray(recipients) || recipients.length === 0) {
    throw new ApiError(400, 'recipients must be a non-empty array of email addresses');
  }
  for (const r of recipients) requireEmail(r, 'recipient');
  if (b.password !== undefined && typeof b.password !== 'string')
    throw new ApiError(400, 'password must be a string');
  if (b.unlimited_storage !== undefined && typeof b.unlimited_storage !== 'boolean') {
    throw new ApiError(400, 'unlimited_storage must be a boolean');
  }
  const partSize = requestedPartSize(ctx.state, b);
  const pkg = newPackage(ctx.state, {
    owner: { kind: 'team', teamId: ctx.params[0]! },
    name,
    description,
    recipients: recipients as string[],
    password: b.password as string | undefined,
    accessLimit: optionalInteger(b, 'access_limit'),
    unlimitedStorage: b.unlimited_storage === true,
    partSize,
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
export function listTeamPackages(ctx: ApiContext): ApiReply {
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

export function getTeamPackage(ctx: ApiContext): ApiReply {
  requireApiKey(ctx, ctx.params[0]!);
  const pkg = ctx.state.packages.get(ctx.params[1]!);
  if (!pkg || pkg.state === 'deleted' || pkg.owner.kind !== 'team' || pkg.owner.teamId !== ctx.params[0])
    throw new ApiError(404, 'package not found');
  return {
    status: 200,
    body: { ...packageView(ctx.state, pkg, true), state: reportedState(ctx.state, pkg) },
  };
}

export function finalizePackage(ctx: ApiContext): ApiReply {
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

export async function deletePackage(ctx: ApiContext): Promise<ApiReply> {
  const pkg = ctx.pkg!;
  changeState(ctx.state, pkg, 'deleted');
  await ctx.state.store.purgePackage(pkg.id);
  for (const file of pkg.files.values()) file.finalParts = undefined;
  return { status: 204 };
}

export function createLink(ctx: ApiContext): ApiReply {
  const pkg = ctx.pkg!;
  const b = body(ctx);
  if (b.email !== undefined) requireEmail(b.email, 'email');
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
