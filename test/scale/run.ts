import '../../local/workflow/polyfills.js';
import { execSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { runScaleCase, SCALE_CASES, type ScaleResult, scaleLine } from './cases.js';

const USAGE = `Usage: npm run test:scale -- [--case NAME]

Runs the largest deliveries through the real workflow and handlers on the local stand-ins with the
Step Functions and Lambda quotas enforced: one file at MASV's 10,000-part maximum, a delivery of the
most files, and the largest delivery the planner accepts (1 KiB parts, every part PUT and checked).
Prints history events and peak state size per case; exits non-zero unless every case keeps 20%
under each quota.`;

const { values } = parseArgs({
  options: { case: { type: 'string' }, help: { type: 'boolean', default: false } },
});
if (values.help) {
  console.log(USAGE);
  process.exit(0);
}
const cases = values.case ? SCALE_CASES.filter((c) => c.name === values.case) : SCALE_CASES;
if (cases.length === 0) {
  console.error(`No case named "${values.case}"; cases: ${SCALE_CASES.map((c) => c.name).join(', ')}.`);
  process.exit(2);
}
const results: ScaleResult[] = [];
for (const scaleCase of cases) {
  process.stderr.write(`scale: running "${scaleCase.name}"…\n`);
  const result = await runScaleCase(scaleCase);
  results.push(result);
  process.stderr.write(
    `scale: ${scaleCase.name}: ${result.status}${result.error ? ` (${result.error})` : ''}, ${result.batches} batches, ` +
      `keys of ${result.keyLength} chars, verified ${result.verified}, peak state at ${result.peakStateWhere || '-'}, ${result.seconds.toFixed(1)} s\n`,
  );
  console.log(scaleLine(result));
}
const within = results.filter((r) => r.withinLimits).length;
if (!values.case) {
  // The bench reports these figures (a full scale run takes minutes, longer than the bench should).
  let commit = 'unknown';
  try {
    commit = execSync('git rev-parse HEAD', { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    // not a git checkout
  }
  mkdirSync('bench/results', { recursive: true });
  const file = { date: new Date().toISOString(), commit, results, lines: results.map(scaleLine) };
  writeFileSync('bench/results/scale.json', `${JSON.stringify(file, null, 2)}\n`);
}
console.log(`scale: ${within}/${results.length} cases within limits`);
process.exit(within === results.length ? 0 : 1);
