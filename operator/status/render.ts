/** Human-readable status for `berth status` and `berth apply`. */
import type { StatusDoc } from './report.ts';
import type { JobStatus } from '../jobs/plan.ts';
import { failingAttempt } from '../jobs/output.ts';

export function renderStatusText(doc: StatusDoc): string {
  const rev = (r: string | null) => (r ? r.slice(0, 12) : 'none');
  const lines = [
    `instance ${doc.instance}  repo ${doc.source.repo}  branch ${doc.source.branch}  path ${doc.source.path}`,
    `revision applied ${rev(doc.revision.applied)}  latest ${rev(doc.revision.latest)}`,
    '',
    ...doc.conditions.map((c) => `${c.type.padEnd(12)} ${c.status.padEnd(6)} ${c.reason.padEnd(20)} ${c.message}`),
  ];
  const services = Object.entries(doc.services);
  if (services.length) {
    const w = Math.max(8, ...services.map(([k]) => k.length)) + 2;
    lines.push('', `${'SERVICE'.padEnd(w)}${'READY'.padEnd(8)}${'HEALTH'.padEnd(13)}IMAGE`);
    for (const [k, s] of services) {
      lines.push(`${k.padEnd(w)}${`${s.ready}/${s.desired}`.padEnd(8)}${s.health.padEnd(13)}${s.image}`);
      if (s.message) lines.push(`${''.padEnd(w)}${s.message}`);
    }
  }
  const jobs = Object.entries(doc.jobs ?? {});
  if (jobs.length) {
    const w = Math.max(8, ...jobs.map(([k]) => k.length)) + 2;
    lines.push('', `${'JOB'.padEnd(w)}${'DONE'.padEnd(8)}${'PHASE'.padEnd(32)}RUN`);
    for (const [k, j] of jobs) {
      const phase = j.reason ? `${j.phase} (${j.reason})` : j.phase;
      lines.push(`${k.padEnd(w)}${`${j.ready}/${j.desired}`.padEnd(8)}${phase.padEnd(32)}${j.run}`);
      for (const a of j.attempts) lines.push(`${''.padEnd(w)}#${a.completion}.${a.attempt} ${a.state}${a.node ? ` on ${a.node}` : ''}${a.exitCode !== undefined ? ` exit ${a.exitCode}` : ''}${a.startedAt ? ` started ${a.startedAt}` : ''}${a.finishedAt ? ` finished ${a.finishedAt}` : ''}`);
      if (j.nextAttemptAt) lines.push(`${''.padEnd(w)}next attempt at ${j.nextAttemptAt}`);
      if (j.message?.includes('attempt(s) pending')) lines.push(`${''.padEnd(w)}${j.message}`);
      if (j.removed) lines.push(`${''.padEnd(w)}containers removed after ttlAfterFinished`);
      if (j.phase === 'Failed') lines.push(...failedOutput(j, ''.padEnd(w)));
    }
  }
  const crons = Object.entries(doc.cronJobs ?? {});
  if (crons.length) {
    const w = Math.max(8, ...crons.map(([k]) => k.length)) + 2;
    lines.push('', `${'CRONJOB'.padEnd(w)}${'SCHEDULE'.padEnd(20)}${'NEXT'.padEnd(26)}LAST RUNS`);
    for (const [k, c] of crons) {
      const runs = c.runs.slice(0, 3).map((r) => `${r.run} ${r.phase}${r.reason ? ` (${r.reason})` : ''}`).join(', ') || 'none';
      lines.push(`${k.padEnd(w)}${c.schedule.padEnd(20)}${(c.next ?? '-').padEnd(26)}${runs}`);
      if (c.lastSkipped) lines.push(`${''.padEnd(w)}skipped ${c.lastSkipped.scheduledAt}: ${c.lastSkipped.reason}`);
      if (c.warning) lines.push(`${''.padEnd(w)}${c.warning}`);
      const last = c.runs.find((r) => r.phase === 'Succeeded' || r.phase === 'Failed');
      if (last?.phase === 'Failed') lines.push(...failedOutput(last, ''.padEnd(w), ` of run ${last.run}`));
    }
  }
  const nodes = doc.nodes ?? [];
  if (nodes.length) {
    const w = Math.max(8, ...nodes.map((n) => n.name.length)) + 2;
    lines.push('', `${'NODE'.padEnd(w)}${'STATE'.padEnd(10)}${'ENGINE'.padEnd(18)}ENDPOINT`);
    for (const n of nodes) {
      lines.push(`${n.name.padEnd(w)}${n.state.padEnd(10)}${(n.engine ?? '-').padEnd(18)}${n.endpoint}`);
      if (n.error) lines.push(`${''.padEnd(w)}${n.error}`);
      for (const l of n.limits ?? []) lines.push(`${''.padEnd(w)}${l}`);
    }
  }
  if (doc.drift.length) lines.push('', 'drift (not corrected):', ...doc.drift.map((d) => `  ${d}`));
  const paused = Object.entries(doc.driftPaused ?? {});
  if (paused.length) lines.push('', ...paused.map(([k, p]) => `drift correction paused for ${k} by ${p.by} since ${p.at}${p.reason ? ` (${p.reason})` : ''} (${p.uncorrected} drifted action(s) not corrected)`));
  if (doc.lastError) lines.push('', `last error (${doc.lastError.code}): ${doc.lastError.message}`);
  if (doc.logs) lines.push('', `log store failing (${doc.logs.file}): ${doc.logs.error}; container output is not collected until it works (the engines keep it)`);
  return lines.join('\n');
}

/** The last lines of output of the attempt a failed run failed with (or why they are missing), indented by `pad`. */
function failedOutput(run: JobStatus, pad: string, of = ''): string[] {
  const a = failingAttempt(run);
  if (!a) return [];
  const head = `${pad}output${of} #${a.completion}.${a.attempt}`;
  if (a.output) return [`${head} (last ${a.output.length} line(s)):`, ...a.output.map((l) => `${pad}  | ${l}`)];
  return a.outputUnavailable ? [`${head}: ${a.outputUnavailable}`] : [];
}
