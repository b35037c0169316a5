import '../local/workflow/polyfills.js';
import { execSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { parseArgs } from 'node:util';
import { benchApiEconomy } from './api-economy.js';
import { benchBundles } from './bundles.js';
import { benchEfficiency } from './efficiency.js';
import { benchStorage } from './emulator-storage.js';
import { spread } from './lib.js';
import { benchLoad } from './load.js';
import { benchMemory } from './memory.js';

const USAGE = `Usage: npm run bench -- [--quick] [--repeats N]

Measures relay efficiency (relay vs raw pipe), transfer memory with small vs huge parts, MASV API
calls per file, bundle sizes, the emulator's storage speed and load (many deliveries at once vs
one, through few transfer slots), side by side in one run; reports the figures of the last
\`npm run test:scale\`. Prints a
table and writes bench/results/latest.json.`;

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    repeats: { type: 'string', default: '3' },
    help: { type: 'boolean', default: false },
  },
});
if (values.help) {
  console.log(USAGE);
  process.exit(0);
}
const repeats = Number(values.repeats);
if (!Number.isInteger(repeats) || repeats < 1) {
  console.error(`--repeats must be a whole number ≥ 1; got "${values.repeats}".\n\n${USAGE}`);
  process.exit(2);
}
const sizeMiB = values.quick ? 256 : 1024;
const log = (text: string) => process.stderr.write(`${text}\n`);

log(`efficiency: relaying ${sizeMiB} MiB ${repeats}× through the workflow and the raw pipe…`);
const efficiency = await benchEfficiency({ sizeMiB, partSizeMiB: 32, inFlight: 4, repeats });
log('memory: transfer worker with 8 MiB parts and with 1 GiB parts…');
const memory = await benchMemory({ sizeMiB: 1024, smallPartMiB: 8, largePartMiB: 1024, partConcurrency: 4 });
log('api economy: one 1,000-part file…');
const api = await benchApiEconomy({ parts: 1000, partsPerBatch: 20 });
log('bundles…');
const bundles = await benchBundles();
log(`emulator storage: one streamed ${sizeMiB} MiB part…`);
const storage = await benchStorage(sizeMiB);

const loadDeliveries = values.quick ? 20 : 50;
log(`load: one delivery, then ${loadDeliveries} at once, through 4 transfer slots…`);
const load = await benchLoad({
  deliveries: loadDeliveries,
  reservedConcurrency: 4,
  singleMiB: values.quick ? 32 : 128,
});
const scaleFile = 'bench/results/scale.json';
const scale = existsSync(scaleFile)
  ? (JSON.parse(readFileSync(scaleFile, 'utf8')) as { date: string; commit: string; lines: string[] })
  : undefined;

let commit = 'unknown';
try {
  commit = execSync('git rev-parse HEAD', { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
} catch {
  // not a git checkout
}
const results = {
  date: new Date().toISOString(),
  commit,
  machine: {
    cores: cpus().length,
    cpu: cpus()[0]?.model,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
  },
  quick: values.quick,
  repeats,
  efficiency: {
    relayMiBps: efficiency.relayMiBps,
    rawMiBps: efficiency.rawMiBps,
    ratio: efficiency.ratio,
    target: 0.9,
    relayRuns: efficiency.relayRuns,
    rawRuns: efficiency.rawRuns,
    sourceGetMiBps: efficiency.sourceGetMiBps,
    sizeMiB: efficiency.sizeMiB,
    partSizeMiB: efficiency.partSizeMiB,
    inFlight: efficiency.inFlight,
    verified: efficiency.verified,
  },
  memory: {
    smallPartPeakMiB: memory.small.peakRssMiB,
    largePartPeakMiB: memory.large.peakRssMiB,
    deltaMiB: memory.deltaMiB,
    target: 64,
    small: memory.small,
    large: memory.large,
  },
  api: {
    callsPerFile: api.callsPerFile,
    limit: api.limit,
    parts: api.parts,
    partsPerBatch: api.partsPerBatch,
    byRoute: api.byRoute,
    specCallsCached: api.specCallsCached,
  },
  bundles,
  bundleTarget: 1_000_000,
  load,
  scale: scale ?? null,
  storage: {
    mibps: storage.mibps,
    target: 300,
    emulatorPeakRssBeforeMiB: storage.emulatorPeakRssBeforeMiB,
    emulatorPeakRssAfterMiB: storage.emulatorPeakRssAfterMiB,
  },
};
mkdirSync('bench/results', { recursive: true });
writeFileSync('bench/results/latest.json', `${JSON.stringify(results, null, 2)}\n`);

const verdict = (ok: boolean) => (ok ? 'met' : 'MISSED');
const rows: Array<[string, string, string, string]> = [
  [
    'P1 relay MiB/s (median, spread)',
    `${efficiency.relayMiBps.toFixed(0)} (${spread(efficiency.relayRuns)})`,
    '',
    '',
  ],
  [
    'P1 raw pipe MiB/s (median, spread)',
    `${efficiency.rawMiBps.toFixed(0)} (${spread(efficiency.rawRuns)})`,
    '',
    '',
  ],
  ['P1 relay / raw', efficiency.ratio.toFixed(3), '≥ 0.90', verdict(efficiency.ratio >= 0.9)],
  ['    source GETs alone MiB/s', efficiency.sourceGetMiBps.toFixed(0), '', ''],
  ['P2 transfer peak RSS, 8 MiB parts', `${memory.small.peakRssMiB.toFixed(0)} MiB`, '', ''],
  ['P2 transfer peak RSS, 1 GiB parts', `${memory.large.peakRssMiB.toFixed(0)} MiB`, '', ''],
  ['P2 difference', `${memory.deltaMiB.toFixed(1)} MiB`, '≤ 64 MiB', verdict(memory.deltaMiB <= 64)],
  [
    'P3 MASV API calls per file (1,000 parts)',
    String(api.callsPerFile),
    `≤ ${api.limit}`,
    verdict(api.callsPerFile <= api.limit),
  ],
  ...Object.entries(bundles).map(([name, size]): [string, string, string, string] => [
    `P5 bundle ${name}`,
    `${(size / 1024).toFixed(0)} KiB`,
    '≤ 1 MB',
    verdict(size <= 1_000_000),
  ]),
  [`load: one delivery alone (${load.singleMiB} MiB) MiB/s`, load.singleMiBps.toFixed(0), '', ''],
  [
    `load: ${load.deliveries} at once (${load.burstMiB.toFixed(0)} MiB) MiB/s`,
    load.burstMiBps.toFixed(0),
    '',
    verdict(load.failed === 0 && load.delivered === load.deliveries),
  ],
  ['load: longest wait before a first part', `${load.longestFirstPartWaitSeconds.toFixed(1)} s`, '', ''],
  [
    'load: peak transfer concurrency (limit)',
    `${load.peakTransferConcurrency} (${load.reservedConcurrency})`,
    '',
    verdict(load.peakTransferConcurrency <= load.reservedConcurrency),
  ],
  [
    'emulator storage, one streamed part MiB/s',
    storage.mibps.toFixed(0),
    '≥ 300',
    verdict(storage.mibps >= 300),
  ],
  [
    'emulator peak RSS before → after',
    `${storage.emulatorPeakRssBeforeMiB.toFixed(0)} → ${storage.emulatorPeakRssAfterMiB.toFixed(0)} MiB`,
    '',
    '',
  ],
];
const width = Math.max(...rows.map((r) => r[0].length));
console.log(
  `\nmasv-relay bench — ${results.machine.cores} cores, ${results.machine.memoryGiB} GiB, Node ${results.machine.node}, ${sizeMiB} MiB, ${repeats} runs`,
);
for (const [name, value, target, status] of rows) {
  console.log(`${name.padEnd(width)}  ${value.padStart(16)}  ${target.padEnd(10)} ${status}`);
}
if (scale) {
  console.log(`scale figures of the last npm run test:scale (${scale.date}, ${scale.commit.slice(0, 8)}):`);
  for (const line of scale.lines) console.log(`  ${line}`);
} else console.log('scale: no figures yet; run npm run test:scale');
console.log(
  `bytes verified by sha256: ${efficiency.verified ? 'yes' : 'NO'}; results in bench/results/latest.json`,
);
