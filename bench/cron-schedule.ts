/**
 * CronJob scheduling cost: next() over 500 schedules (a mix of expressions and time zones) for every minute of a
 * day (500 x 1440 = 720,000 calls), plus one decideCron() pass over all 500 (what a per-minute tick costs).
 * Pure CPU, no Docker, fixed epoch inputs. Goal: scheduling CPU per minute for 500 CronJobs under 1 % of a core
 * (600 ms/min); next() for 500 schedules well under 10 ms.
 * Run: npx tsx bench/cron-schedule.ts
 */
import { performance } from 'node:perf_hooks';
import { decideCron } from '../operator/jobs/cron-policy.ts';
import { isScheduleError, parseSchedule, type Schedule } from '../operator/jobs/schedule.ts';

const EXPRS = ['* * * * *', '*/5 * * * *', '0 * * * *', '30 2 * * *', '15 9-17 * * 1-5', '0 0 1 * *', '0 0 13 * 5', '@daily', '0 0 29 2 *', '*/15 8-20 * * *'];
const ZONES = ['UTC', 'America/New_York', 'Europe/Berlin', 'Asia/Kolkata', 'Australia/Sydney'];
const N = 500;
const START = Date.parse('2026-03-28T12:00:00Z'); // spans the Europe/Berlin spring-forward

const schedules: Schedule[] = [];
for (let i = 0; i < N; i++) {
  const s = parseSchedule(EXPRS[i % EXPRS.length]!, ZONES[Math.floor(i / EXPRS.length) % ZONES.length]!);
  if (isScheduleError(s)) throw new Error(s.error);
  schedules.push(s);
}

function pass(): number {
  let sink = 0;
  for (let m = 0; m < 1440; m++) {
    const t = START + m * 60_000;
    for (const s of schedules) sink += s.next(t) - t;
  }
  return sink;
}

pass(); // warm-up (JIT, zone offset caches)
const runs: number[] = [];
for (let r = 0; r < 3; r++) {
  const t0 = performance.now();
  pass();
  runs.push(performance.now() - t0);
}
runs.sort((a, b) => a - b);
const median = runs[1]!;
const perCallUs = (median * 1000) / (N * 1440);
console.log(`next(): ${N} schedules x 1440 minutes = ${N * 1440} calls: ${median.toFixed(1)} ms (median of 3), ${perCallUs.toFixed(2)} µs/call, ${(perCallUs * N / 1000).toFixed(3)} ms per 500-schedule tick`);

// Cold: fresh zones far from the cached range.
const far = Date.parse('2031-07-01T00:00:00Z');
let t0 = performance.now();
for (const s of schedules) s.next(far);
console.log(`next(): 500 schedules at a new instant (offset caches cold for it): ${(performance.now() - t0).toFixed(2)} ms`);

// One decideCron tick for all 500, on time.
t0 = performance.now();
const now = START + 1440 * 60_000;
let starts = 0;
for (const s of schedules) {
  const d = decideCron({ schedule: s, concurrencyPolicy: 'Forbid', suspend: false, createdAt: START }, { lastScheduled: now - 3 * 60_000, active: [] }, now);
  if (d.start) starts++;
}
console.log(`decideCron(): 500 CronJobs, one tick: ${(performance.now() - t0).toFixed(2)} ms (${starts} starts)`);

// Worst case: every CronJob down for a year (>100 missed each).
t0 = performance.now();
for (const s of schedules) decideCron({ schedule: s, concurrencyPolicy: 'Allow', suspend: false, createdAt: now - 365 * 86_400_000 }, { active: [] }, now);
console.log(`decideCron(): 500 CronJobs after a year of downtime: ${(performance.now() - t0).toFixed(2)} ms`);
