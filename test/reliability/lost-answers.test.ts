import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FaultRule, FaultTarget } from '../../local/emulator/faults.js';
import { startEmulator } from '../../local/emulator/server.js';
import { LocalRelay, type LocalRelayOptions } from '../../local/workflow/relay.js';
import { sha256 } from '../helpers/bytes.js';
import {
  depsOf,
  FILE_FINALIZE_REFUSED_ONCE,
  KiB,
  putSource,
  relayObject,
  TINY_SPEC,
  testRelayOptions,
} from '../helpers/local-relay.js';
import { auditPackages, findSecrets, newTally, settleDelivery, summaryLine, tallyAudit } from './tally.js';

/**
 * Every MASV call whose answer is lost after MASV committed it — a connection reset, or a gateway's
 * 502 — with a repeated finalize answered 204 or 409. Each delivery must end with exactly one
 * finalized package holding byte-exact files, no package left in `new`, and no finalized package
 * ever deleted.
 */
const tally = newTally();
const logs: string[] = [];
const relays: LocalRelay[] = [];

afterAll(async () => {
  const apiKey = relays[0]?.emulator?.accounts.apiKey ?? 'emulator-api-key';
  const everything = [
    ...logs,
    ...relays.map((r) => JSON.stringify(r.emulator!.inspect.requests())),
    ...relays.map((r) => JSON.stringify(r.events.events)),
  ].join('\n');
  for (const relay of relays) tallyAudit(relay, tally);
  await Promise.all(relays.map((r) => r.close()));
  console.log(summaryLine(tally));
  expect(findSecrets(everything, apiKey)).toEqual([]);
  expect(tally).toMatchObject({ corrupt: 0, duplicate: 0, orphaned: 0, deletedAfterDelivery: 0 });
});

async function start(options: LocalRelayOptions = {}) {
  const relay = await LocalRelay.start(
    testRelayOptions({ logSink: (line) => logs.push(line), emulator: { seed: 11 }, ...options }),
  );
  relays.push(relay);
  return relay;
}

let relay: LocalRelay;
beforeAll(async () => {
  relay = await start();
});

interface Delivery {
  key: string;
  size: number;
  faults: FaultRule[];
  repeatFinalize?: 'idempotent' | 'conflict';
  link?: string;
  on?: LocalRelay;
}

/** Relays one object with faults armed and checks the row's invariants. */
async function deliver({ key, size, faults, repeatFinalize = 'idempotent', link, on = relay }: Delivery) {
  const emulator = on.emulator!;
  const known = new Set(emulator.inspect.packages().map((p) => p.id));
  emulator.inspect.updateSettings({ repeatFinalize });
  emulator.faults.clear();
  for (const fault of faults) emulator.faults.add(fault);
  const { body, etag } = await putSource(on, key, size);
  const request = link
    ? { bucket: 'source', key, link: { email: link } }
    : on.objectCreatedEvent(key, etag, size);
  const summary = (await on.trigger(request)) as { started: string[] };
  const run = on.deliveries.get(summary.started[0]!)!;
  const outcome = await settleDelivery(on, run, body, tally);
  const applied = emulator.faults.list().reduce((n, f) => n + f.applied, 0);
  emulator.faults.clear();
  emulator.inspect.updateSettings({ repeatFinalize: 'idempotent' });
  const audit = auditPackages(on);
  const thisRow = (ids: string[]) => ids.filter((id) => !known.has(id));
  expect({
    orphaned: thisRow(audit.orphaned),
    deletedAfterDelivery: thisRow(audit.deletedAfterDelivery),
  }).toEqual({
    orphaned: [],
    deletedAfterDelivery: [],
  });
  return { outcome, run, applied };
}

const ROUTES: Array<{ name: string; target: FaultTarget; link?: boolean }> = [
  { name: 'create package', target: 'route:POST /v1/teams/{team_id}/packages' },
  { name: 'add file', target: 'route:POST /v1/packages/{package_id}/files' },
  { name: 'create blueprint (storage)', target: 'storage-create' },
  { name: 'part blueprints', target: 'route:POST /v1/packages/{package_id}/files/{file_id}' },
  { name: 'part PUT (storage)', target: 'storage-part' },
  { name: 'finalize file', target: 'route:POST /v1/packages/{package_id}/files/{file_id}/finalize' },
  { name: 'finalize package', target: 'route:POST /v1/packages/{package_id}/finalize' },
  { name: 'create link', target: 'route:POST /v1/packages/{package_id}/links', link: true },
];

const LOSSES: Array<{ name: string; fault: Omit<FaultRule, 'target'> }> = [
  { name: 'reset after commit', fault: { kind: 'reset-after-commit', times: 1 } },
  { name: '502 after commit', fault: { kind: 'status-after-commit', status: 502, times: 1 } },
];

describe('lost answers after MASV committed: exactly one delivered package, nothing orphaned', () => {
  let row = 0;
  for (const route of ROUTES) {
    for (const loss of LOSSES) {
      for (const repeatFinalize of ['idempotent', 'conflict'] as const) {
        const n = ++row;
        it(`${route.name}: ${loss.name}, a repeat answered ${repeatFinalize === 'conflict' ? '409' : 'idempotently'}`, async () => {
          const { outcome, run, applied } = await deliver({
            key: `lost/${n}.bin`,
            size: 300 * KiB,
            faults: [{ target: route.target, ...loss.fault }],
            repeatFinalize,
            link: route.link ? 'reviewer@example.com' : undefined,
          });
          expect(applied).toBe(1);
          expect(outcome.status).toBe('SUCCEEDED');
          const packageId = (outcome as { output: { packageId: string } }).output.packageId;
          const pkg = relay.emulator!.inspect.package(packageId)!;
          expect(pkg.state).toBe('finalized');
          if (route.link) expect(pkg.links).toHaveLength(1);
          if (route.name === 'create package') {
            const created = relay.emulator!.inspect.packages().filter((p) => p.name === pkg.name);
            // The committed package was adopted: no second one was ever created.
            expect(created.map((p) => p.id)).toEqual([packageId]);
          }
          expect(run.prepared?.package.id).toBe(packageId);
        });
      }
    }
  }

  for (const loss of LOSSES) {
    it(`delete package in Abort: ${loss.name} still ends with the failed package deleted`, async () => {
      const { outcome, run } = await deliver({
        key: `lost/delete-${loss.fault.kind}.bin`,
        size: 200 * KiB,
        faults: [
          FILE_FINALIZE_REFUSED_ONCE,
          { target: 'route:DELETE /v1/packages/{package_id}', ...loss.fault },
        ],
      });
      expect(outcome).toMatchObject({ status: 'FAILED', error: 'MasvValidationError' });
      expect(relay.emulator!.inspect.package(run.prepared!.package.id)?.state).toBe('deleted');
      const failure = relay.events.events.find(
        (e) => e.detailType === 'MASV Relay Delivery Failed' && e.detail.deliveryId === run.deliveryId,
      );
      expect(failure?.detail).toMatchObject({ packageDeleted: true });
    });
  }
});

describe('after the package finalize, the delivery has happened', () => {
  it('succeeds when the success event cannot be published, and counts the follow-up failure', async () => {
    const events = depsOf(relay).events;
    const publish = events.publish.bind(events);
    events.publish = async (detailType, detail) => {
      if (detailType === 'MASV Relay Delivery Succeeded')
        throw new Error('ThrottlingException: Rate exceeded');
      return publish(detailType, detail);
    };
    try {
      const { outcome } = await deliver({ key: 'after/event.bin', size: 200 * KiB, faults: [] });
      expect(outcome.status).toBe('SUCCEEDED');
      expect((outcome as { output: unknown }).output).toMatchObject({
        followUpFailures: ['publish the success event'],
      });
    } finally {
      events.publish = publish;
    }
  });

  it('succeeds when MASV refuses the download link, creating it at most once', async () => {
    const linkCalls = () =>
      relay.emulator!.inspect.requests().filter((r) => r.route === 'POST /v1/packages/{package_id}/links')
        .length;
    const before = linkCalls();
    const { outcome } = await deliver({
      key: 'after/link-refused.bin',
      size: 200 * KiB,
      link: 'reviewer@example.com',
      faults: [{ target: 'route:POST /v1/packages/{package_id}/links', kind: 'status', status: 400 }],
    });
    expect(outcome.status).toBe('SUCCEEDED');
    const output = (outcome as { output: { packageId: string; followUpFailures: string[] } }).output;
    expect(output.followUpFailures).toEqual(['create the download link']);
    expect(relay.emulator!.inspect.package(output.packageId)!.links).toEqual([]);
    expect(linkCalls() - before).toBe(1);
  });

  it('a Lambda that times out right after finalize package is retried and reads MASV state', async () => {
    const stateBucket = depsOf(relay).stateBucket;
    const mark = stateBucket.mark.bind(stateBucket);
    let killed = 0;
    stateBucket.mark = async (deliveryId, which) => {
      if (which === 'package-finalized' && killed++ === 0)
        throw Object.assign(new Error('Task timed out after 300.00 seconds'), { name: 'Sandbox.Timedout' });
      return mark(deliveryId, which);
    };
    try {
      const { outcome } = await deliver({ key: 'after/timeout.bin', size: 200 * KiB, faults: [] });
      expect(killed).toBe(2);
      expect(outcome.status).toBe('SUCCEEDED');
      const finalizeCalls = relay
        .emulator!.inspect.requests()
        .filter((r) => r.route === 'POST /v1/packages/{package_id}/finalize');
      expect(finalizeCalls.at(-1)?.status).toBe(204);
    } finally {
      stateBucket.mark = mark;
    }
  });

  it('a Finalize that keeps timing out after finalize package ends in Abort, which completes the delivery instead of deleting it', async () => {
    const stateBucket = depsOf(relay).stateBucket;
    const mark = stateBucket.mark.bind(stateBucket);
    stateBucket.mark = async (deliveryId, which) => {
      if (which === 'package-finalized')
        throw Object.assign(new Error('Task timed out after 300.00 seconds'), { name: 'Sandbox.Timedout' });
      return mark(deliveryId, which);
    };
    try {
      const { outcome, run } = await deliver({
        key: 'after/timeout-always.bin',
        size: 200 * KiB,
        faults: [],
      });
      expect(outcome.status).toBe('SUCCEEDED');
      expect((outcome as { output: unknown }).output).toMatchObject({
        delivered: true,
        packageId: run.prepared!.package.id,
      });
      expect(relay.emulator!.inspect.package(run.prepared!.package.id)!.state).toBe('finalized');
      const succeeded = relay.events.events.filter(
        (e) => e.detailType === 'MASV Relay Delivery Succeeded' && e.detail.deliveryId === run.deliveryId,
      );
      expect(succeeded).toHaveLength(1);
    } finally {
      stateBucket.mark = mark;
    }
  });
});

describe('Abort deletes only what it may, and keeps what it could not delete', () => {
  it('refreshes an expired Team token before deleting the failed package', async () => {
    const { outcome, run } = await deliver({
      key: 'abort/token.bin',
      size: 200 * KiB,
      faults: [
        FILE_FINALIZE_REFUSED_ONCE,
        { target: 'route:DELETE /v1/packages/{package_id}', kind: 'expire-token', times: 1 },
      ],
    });
    expect(outcome.status).toBe('FAILED');
    expect(relay.emulator!.inspect.package(run.prepared!.package.id)?.state).toBe('deleted');
    // Abort reads the package's state; its DELETE is refused (token expired), so it refreshes the
    // token (the same GET) and deletes.
    const createdAt = relay.emulator!.inspect.package(run.prepared!.package.id)!.stateChanges[0]!.at;
    const packageCalls = relay
      .emulator!.inspect.requests()
      .filter((r) => r.at >= createdAt && /^(GET|DELETE) .*\{package_id\}$/.test(r.route))
      .map((r) => `${r.route} ${r.status}`);
    expect(packageCalls).toEqual([
      'GET /v1.1/teams/{team_id}/packages/{package_id} 200',
      'DELETE /v1/packages/{package_id} 401',
      'GET /v1.1/teams/{team_id}/packages/{package_id} 200',
      'DELETE /v1/packages/{package_id} 204',
    ]);
  });

  it('keeps the package record when the delete keeps failing, and names the package in the failure event', async () => {
    const own = await start();
    const emulator = own.emulator!;
    emulator.faults.add(FILE_FINALIZE_REFUSED_ONCE);
    emulator.faults.add({ target: 'route:DELETE /v1/packages/{package_id}', kind: 'status', status: 500 });
    const { run, outcome } = await relayObject(own, 'abort/undeletable.bin', 200 * KiB);
    expect(outcome.status).toBe('FAILED');
    const packageId = run.prepared!.package.id;
    expect(emulator.inspect.package(packageId)?.state).toBe('new');
    const failure = own.events.events.find((e) => e.detailType === 'MASV Relay Delivery Failed');
    expect(failure?.detail).toMatchObject({ packageDeleted: false, packagesNotDeleted: [packageId] });
    const record = await depsOf(own).stateBucket.loadPackage(run.deliveryId);
    expect(record?.packageId).toBe(packageId);
    // A later run (a retry or a sweep) can still delete it with the kept record.
    emulator.faults.clear();
    await depsOf(own).masv.deletePackage({ packageId, token: record!.token });
    expect(emulator.inspect.package(packageId)?.state).toBe('deleted');
  });
});

describe('Portal packages cannot be looked up: a possible orphan is reported, not guessed at', () => {
  it('reports the lost create in the success event with its name and time, and delivers once', async () => {
    const emulator = await startEmulator({ port: 0, spec: TINY_SPEC });
    const accounts = emulator.accounts;
    const portal = await LocalRelay.start(
      testRelayOptions({
        logSink: (line) => logs.push(line),
        emulator: false,
        masv: { url: emulator.url, apiKey: accounts.apiKey, teamId: accounts.teamId },
        config: {
          masv: { target: { kind: 'portal', portalId: accounts.portalId, sender: 'relay@example.com' } },
        } as never,
      }),
    );
    try {
      emulator.faults.add({
        target: 'route:POST /v1/portals/{portal_id}/packages',
        kind: 'reset-after-commit',
        times: 1,
      });
      const { body, run, outcome } = await relayObject(portal, 'portal/lost.bin', 200 * KiB);
      expect(outcome.status).toBe('SUCCEEDED');
      const packages = emulator.inspect.packages();
      const delivered = packages.filter((p) => p.state === 'finalized');
      expect(delivered).toHaveLength(1);
      expect(await emulator.inspect.fileSha256(delivered[0]!.files[0]!.id)).toBe(sha256(body));
      // The package the lost answer created is never finalized, so it never reaches anyone; the
      // relay cannot find it without an API key, so it says so instead of guessing.
      const lost = packages.filter((p) => p.state === 'new');
      expect(lost).toHaveLength(1);
      const success = portal.events.events.find((e) => e.detailType === 'MASV Relay Delivery Succeeded');
      expect(success?.detail).toMatchObject({
        possibleOrphans: [{ name: lost[0]!.name, createdAfter: expect.any(String) }],
      });
      const line = logs.find((l) => l.includes('reporting a possible orphan'));
      expect(line).toContain(run.deliveryId);
    } finally {
      await portal.close();
      await emulator.close();
    }
  });
});
