/**
 * `npm run soak [-- --duration=10m --scrapers=4 --population=6 --warmup=60s --deadline=10s]`
 * (or SOAK_DURATION=30m npm run soak): runs the churn soak, prints its summary, exits 1 on any failure.
 */
import { parseArgs } from 'node:util';
import { parseDuration } from '../../src/cli/flags.js';
import { formatSummary, runSoak } from './soak.js';

const { values } = parseArgs({
  options: {
    duration: { type: 'string', default: process.env.SOAK_DURATION ?? '10m' },
    warmup: { type: 'string' },
    scrapers: { type: 'string', default: '4' },
    population: { type: 'string', default: '6' },
    deadline: { type: 'string', default: '10s' },
  },
  strict: true,
});

function duration(flag: string, text: string): number {
  const ms = parseDuration(text);
  if (ms === undefined) {
    process.stderr.write(`soak: invalid --${flag} ${JSON.stringify(text)} (want e.g. 90s, 10m)\n`);
    process.exit(2);
  }
  return ms;
}

const durationMs = duration('duration', values.duration);
const summary = await runSoak({
  durationMs,
  // Long enough for the exporter's heap to settle; a tenth of a long run.
  warmupMs:
    values.warmup === undefined
      ? Math.min(60_000, Math.max(20_000, durationMs / 10))
      : duration('warmup', values.warmup),
  scrapers: Number(values.scrapers),
  population: Number(values.population),
  deadlineMs: duration('deadline', values.deadline),
  progress: (line) => {
    process.stderr.write(`${line}\n`);
  },
});
process.stdout.write(`${formatSummary(summary)}\n`);
process.exit(summary.failureCount === 0 ? 0 : 1);
