import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type ApiContext, ApiError, authorizePackage, routes } from './api.js';
import { type FaultRule, FaultSchedule, loseAnswerAfterCommit, lostAnswerFault } from './faults.js';
import { seededRandom, ulid } from './ids.js';
import { createInspector, type Inspector } from './inspect.js';
import {
  type EmulatorAccounts,
  type EmulatorSettings,
  type EmulatorSpec,
  type EmulatorState,
  newCounters,
} from './model.js';
import { MultipartStore } from './multipart-store.js';
import { handleStorageRequest, sleep } from './storage.js';

export const DEFAULT_EMULATOR_PORT = 4590;

export const S3_SPEC: EmulatorSpec = {
  max_chunk_count: 10_000,
  max_chunk_size: 5 * 1024 * 1024 * 1024,
  min_chunk_size: 5 * 1024 * 1024,
};

export interface EmulatorOptions {
  /** API port (0 = any free port). Storage listens on its own port. */
  port?: number;
  storagePort?: number;
  host?: string;
  /** Part limits; tests force tiny ones to exercise many parts quickly. */
  spec?: Partial<EmulatorSpec>;
  settings?: Partial<Omit<EmulatorSettings, 'spec'>>;
  /** Fixed credentials; defaults are stable so `npm start` and docs can name them. */
  accounts?: Partial<EmulatorAccounts>;
  /** Seed of the fault schedule. */
  seed?: number;
  /** Directory for stored parts; a fresh temp directory by default (removed on close). */
  dataDir?: string;
  /** Request log lines (stderr for the CLI); silent by default. */
  log?: (line: string) => void;
  /** Clock (ms); injectable so tests can expire URLs and tokens without waiting. */
  now?: () => number;
}

export interface RunningEmulator {
  url: string;
  storageUrl: string;
  accounts: EmulatorAccounts;
  inspect: Inspector;
  faults: FaultSchedule;
  close(): Promise<void>;
}

function defaultAccounts(): EmulatorAccounts {
  const random = seededRandom(20201030);
  const id = () => ulid(1_700_000_000_000, random);
  return {
    apiKey: 'emulator-api-key',
    teamId: id(),
    portalId: id(),
    portalSubdomain: 'open-portal',
    protectedPortalId: id(),
    protectedPortalSubdomain: 'protected-portal',
    accessCode: 'let me in',
    formPortalId: id(),
    formPortalSubdomain: 'form-portal',
  };
}

/**
 * Starts the MASV API emulator and its storage endpoint on loopback.
 *
 * @example
 * const masv = await startEmulator({ port: 0, spec: { min_chunk_size: 1024 } });
 * // ... point MasvClient at masv.url ...
 * await masv.close();
 */
export async function startEmulator(options: EmulatorOptions = {}): Promise<RunningEmulator> {
  const host = options.host ?? '127.0.0.1';
  const ownDir = !options.dataDir;
  const dataDir = options.dataDir ?? (await mkdtemp(join(tmpdir(), 'masv-emulator-')));
  const faults = new FaultSchedule(options.seed ?? 1);
  const state: EmulatorState = {
    settings: {
      spec: { ...S3_SPEC, ...options.spec },
      tokenTtlSeconds: 7 * 24 * 3600,
      urlTtlSeconds: 3600,
      packageTtlSeconds: 10 * 24 * 3600,
      maxBlueprintWindow: 1000,
      repeatFinalize: 'idempotent',
      directoryBlueprint: false,
      partNumberKeys: 'both',
      storageEncryption: 'SSE-S3',
      ...options.settings,
    },
    accounts: { ...defaultAccounts(), ...options.accounts },
    packages: new Map(),
    store: new MultipartStore(dataDir),
    faults,
    counters: newCounters(),
    requestLog: [],
    lastRequestByRoute: new Map(),
    tokenSecret: randomBytes(32),
    signingKey: randomBytes(32),
    apiUrl: '',
    storageUrl: '',
    now: options.now ?? Date.now,
    log: options.log ?? (() => undefined),
  };
  const inspect = createInspector(state);

  const storage = createServer({ highWaterMark: 1 << 20 }, (req, res) => {
    const started = Date.now();
    handleStorageRequest(state, req, res)
      .then(({ route, status }) => record(state, req.method ?? '', route, status, started))
      .catch((error: unknown) => internalError(res, error));
  });
  const api = createServer((req, res) => {
    handleApiRequest(state, inspect, req, res).catch((error: unknown) => internalError(res, error));
  });
  for (const server of [api, storage]) {
    server.requestTimeout = 0;
    server.keepAliveTimeout = 30_000;
  }
  state.apiUrl = await listen(api, options.port ?? DEFAULT_EMULATOR_PORT, host);
  state.storageUrl = await listen(storage, options.storagePort ?? 0, host);

  return {
    url: state.apiUrl,
    storageUrl: state.storageUrl,
    accounts: state.accounts,
    inspect,
    faults,
    close: async () => {
      await Promise.all([api, storage].map(closeServer));
      if (ownDir) await rm(dataDir, { recursive: true, force: true });
    },
  };
}

function listen(server: Server, port: number, host: string): Promise<string> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      const address = server.address() as AddressInfo;
      resolve(`http://${host}:${address.port}`);
    });
  });
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  });
}

function internalError(res: ServerResponse, error: unknown) {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  res.writeHead(500, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ code: 500, message: `emulator error: ${(error as Error).message}` }));
}

function record(state: EmulatorState, method: string, route: string, status: number, started: number) {
  const entry = { at: new Date().toISOString(), method, route, status, ms: Date.now() - started };
  state.requestLog.push(entry);
  if (state.requestLog.length > 20_000) state.requestLog.splice(0, 10_000);
  state.log(`${entry.at} ${route} → ${status || 'reset'} (${entry.ms} ms)`);
}

function send(res: ServerResponse, status: number, body?: unknown, headers: Record<string, string> = {}) {
  if (body === undefined) {
    res.writeHead(status, headers);
    res.end();
    return;
  }
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': String(Buffer.byteLength(text)),
    ...headers,
  });
  res.end(text);
}

async function readBody(req: IncomingMessage, limit = 8 * 1024 * 1024): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw new ApiError(413, 'request body is too large');
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

async function handleApiRequest(
  state: EmulatorState,
  inspect: Inspector,
  req: IncomingMessage,
  res: ServerResponse,
) {
  const started = Date.now();
  const url = new URL(req.url ?? '/', 'http://emulator');
  if (url.pathname.startsWith('/_emulator/')) return handleInspection(state, inspect, req, res, url);
  const method = req.method ?? 'GET';
  const match = routes
    .map((r) => ({ r, m: r.method === method ? r.pattern.exec(url.pathname) : null }))
    .find((x) => x.m);
  if (!match) {
    const known = routes.some((r) => r.pattern.test(url.pathname));
    req.resume();
    send(res, known ? 405 : 404, {
      code: known ? 405 : 404,
      message: known ? 'method not allowed' : 'route not found',
    });
    return record(
      state,
      method,
      `${method} ${url.pathname.split('/').slice(0, 3).join('/')}/…`,
      known ? 405 : 404,
      started,
    );
  }
  const { r } = match;
  const params = match.m!.slice(1).map(decodeURIComponent);
  state.counters.apiCalls[r.name] = (state.counters.apiCalls[r.name] ?? 0) + 1;
  state.counters.apiCallsTotal++;

  let status = 500;
  try {
    const text = await readBody(req);
    const retryKey = `${params.join('/')}|${url.search}|${text}`;
    if (method !== 'GET' && state.lastRequestByRoute.get(r.name) === retryKey) state.counters.apiRetries++;
    state.lastRequestByRoute.set(r.name, retryKey);

    const fired = state.faults.match('api', r.name);
    state.counters.faultsApplied += fired.length;
    const lostAnswer = lostAnswerFault(fired);
    if (lostAnswer) loseAnswerAfterCommit(res, lostAnswer);
    for (const fault of fired.filter((f) => f.kind === 'latency')) await sleep(fault.latencyMs ?? 0);
    if (fired.some((f) => f.kind === 'reset')) {
      status = 0;
      req.socket.destroy();
      return;
    }
    const statusFault = fired.find((f) => f.kind === 'status');
    if (statusFault) {
      status = statusFault.status!;
      return send(res, status, { code: status, message: faultMessage(status) }, retryAfter(statusFault));
    }
    let body: unknown;
    if (text.trim() !== '') {
      try {
        body = JSON.parse(text);
      } catch {
        throw new ApiError(400, 'request body is not valid JSON');
      }
    }
    const ctx: ApiContext = { state, req, params, query: url.searchParams, body };
    if (r.packageScoped)
      ctx.pkg = authorizePackage(
        ctx,
        fired.some((f) => f.kind === 'expire-token'),
      );
    const reply = await r.handler(ctx);
    status = reply.status;
    send(res, reply.status, reply.body, reply.headers);
  } catch (error) {
    if (!(error instanceof ApiError)) throw error;
    status = error.status;
    send(res, error.status, { code: error.status, message: error.message });
  } finally {
    record(state, method, r.name, status, started);
  }
}

function faultMessage(status: number) {
  if (status === 429) return 'too many requests';
  if (status === 503) return 'service unavailable';
  return 'internal server error';
}

function retryAfter(fault: FaultRule): Record<string, string> {
  return fault.retryAfter ? { 'retry-after': fault.retryAfter } : {};
}

async function handleInspection(
  state: EmulatorState,
  inspect: Inspector,
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
) {
  const path = url.pathname.slice('/_emulator'.length);
  const method = req.method ?? 'GET';
  const text = await readBody(req);
  const input = text ? (JSON.parse(text) as Record<string, unknown>) : {};
  try {
    const [, section, id, leaf] = path.split('/').map(decodeURIComponent);
    if (method === 'GET' && path === '/packages') return send(res, 200, inspect.packages());
    if (method === 'GET' && section === 'packages' && id && !leaf) {
      const pkg = inspect.package(id);
      return pkg ? send(res, 200, pkg) : send(res, 404, { code: 404, message: 'package not found' });
    }
    if (method === 'GET' && section === 'files' && id && leaf === 'sha256') {
      return send(res, 200, { sha256: await inspect.fileSha256(id) });
    }
    if (method === 'GET' && section === 'files' && id && leaf === 'content') {
      const stream = inspect.readFile(id);
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      stream.pipe(res);
      return;
    }
    if (method === 'GET' && path === '/counters') return send(res, 200, inspect.counters());
    if (method === 'GET' && path === '/requests') return send(res, 200, inspect.requests());
    if (method === 'POST' && path === '/counters/reset') {
      inspect.resetCounters();
      return send(res, 204);
    }
    if (method === 'GET' && path === '/faults') return send(res, 200, state.faults.list());
    if (method === 'POST' && path === '/faults') {
      if (typeof input.seed === 'number') state.faults.seed(input.seed);
      const rules = (Array.isArray(input.rules) ? input.rules : input.kind ? [input] : []) as FaultRule[];
      return send(res, 201, { ids: rules.map((rule) => state.faults.add(rule)) });
    }
    if (method === 'DELETE' && path === '/faults') {
      state.faults.clear();
      return send(res, 204);
    }
    if (method === 'GET' && path === '/settings') return send(res, 200, inspect.settings());
    if (method === 'PATCH' && path === '/settings') {
      inspect.updateSettings(input as Partial<EmulatorSettings>);
      return send(res, 200, inspect.settings());
    }
    send(res, 404, { code: 404, message: 'unknown inspection route' });
  } catch (error) {
    send(res, 400, { code: 400, message: (error as Error).message });
  }
}
