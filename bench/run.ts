import '../local/polyfills.js';
import { execSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { parseArgs } from 'node:util';
import { benchApiEconomy } from './api-economy.js';
import { benchBundles } from './bundles.js';
import { benchEfficiency } from './efficiency.js';
import { benchStorage } from './emulator-storage.js';
import { spread } from './lib.js';
import { benchMemory } from './memory.js';

const USAGE = `Usage: npm run bench -- [--quick] [--repeats N]

Measures relay efficiency (relay vs raw pipe), transfer memory with small vs huge parts, MASV API
calls per file, bundle sizes and the emulator's storage speed, side by side in one run. Prints a
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
console.log(
  `bytes verified by sha256: ${efficiency.verified ? 'yes' : 'NO'}; results in bench/results/latest.json`,
);
