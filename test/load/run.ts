import '../../local/workflow/polyfills.js';
import { parseArgs } from 'node:util';
import { runBurst, summaryLine } from './burst.js';

const USAGE = `Usage: npm run test:load -- [--deliveries N] [--reserved L] [--map-concurrency M]

Drops N objects (default 50; empty, small and multi-part) into the local source bucket at once, with
the transfer function's reserved concurrency at L (default 4), waits for every delivery and checks
each package byte for byte in the MASV emulator. Exits non-zero unless every delivery succeeded.`;

const { values } = parseArgs({
  options: {
    deliveries: { type: 'string', default: '50' },
    reserved: { type: 'string', default: '4' },
    'map-concurrency': { type: 'string', default: '10' },
    help: { type: 'boolean', default: false },
  },
});
if (values.help) {
  console.log(USAGE);
  process.exit(0);
}
const whole = (name: string, text: string) => {
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1) {
    console.error(`--${name} must be a whole number ≥ 1; got "${text}".\n\n${USAGE}`);
    process.exit(2);
  }
  return value;
};
const deliveries = whole('deliveries', values.deliveries);
const reservedConcurrency = whole('reserved', values.reserved);
const mapConcurrency = whole('map-concurrency', values['map-concurrency']);

const report = await runBurst({
  deliveries,
  reservedConcurrency,
  mapConcurrency,
  log: (line) => process.stderr.write(`${line}\n`),
});
for (const failure of report.failures) console.error(`load: FAILED ${failure}`);
console.error(
  `load: ${(report.bytes / 1024 / 1024).toFixed(1)} MiB in ${report.seconds.toFixed(1)} s, ${report.throttles} throttled ` +
    `invocations waited out, longest wait before a first part ${report.longestFirstPartWaitSeconds.toFixed(1)} s`,
);
console.log(summaryLine(report));
process.exit(
  report.delivered === report.deliveries && report.duplicate === 0 && report.orphaned === 0 ? 0 : 1,
);
