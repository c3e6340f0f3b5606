/** Turns health transitions and reconciler events into alerts (pure formatting). */
import type { HealthChange } from '../health/monitor.ts';
import type { ReconcilerEvent } from '../reconciler/reconciler.ts';
import type { Alert } from './alerter.ts';
import type { JobFailure } from '../jobs/failures.ts';

const BAD = new Set(['Degraded', 'Unhealthy', 'CrashLoop']);

/** An alert for a replica that turned unhealthy or recovered; null for transitions nobody needs to hear about. */
export function healthAlert(c: HealthChange): Alert | null {
  const key = `health:${c.service}#${c.replica}`;
  const was = c.before?.health;
  const now = c.after.health;
  if (BAD.has(now) && was !== now) {
    return { kind: 'health', severity: now === 'Degraded' ? 'warning' : 'critical', key, title: `${now}: ${c.service} #${c.replica}`, text: `${c.service} replica ${c.replica} (${c.name}) is ${now}: ${c.after.message}`, fields: { service: c.service, replica: c.replica, container: c.name, health: now } };
  }
  if (now === 'Healthy' && was !== undefined && BAD.has(was)) {
    return { kind: 'recovered', severity: 'info', key, title: `Recovered: ${c.service} #${c.replica}`, text: `${c.service} replica ${c.replica} (${c.name}) is Healthy again (was ${was})`, fields: { service: c.service, replica: c.replica, container: c.name } };
  }
  return null;
}

/** An alert for a crash loop, a rolled-back or paused update, or a failed pass; null for events that are not alerts. */
export function reconcilerAlert(e: ReconcilerEvent): Alert | null {
  switch (e.kind) {
    case 'applying':
    case 'revision-planned':
      return null;
    case 'crashloop': {
      const wait = e.crash.retryAt ? `; next restart in ${Math.max(0, Math.round((e.crash.retryAt - Date.now()) / 1000))} s` : '';
      return { kind: 'crashloop', severity: 'critical', key: `crashloop:${e.crash.service}#${e.crash.replica}`, title: `CrashLoop: ${e.crash.service} #${e.crash.replica}`, text: `${e.crash.service} replica ${e.crash.replica} restarted ${e.crash.restarts} times (exit ${e.crash.exitCode})${wait}`, fields: { service: e.crash.service, replica: e.crash.replica, restarts: String(e.crash.restarts) } };
    }
    case 'rollback': {
      const r = e.rollout;
      const verb = r.action === 'rollback' ? 'rolled back' : r.action === 'pause' ? 'paused' : 'continued despite failures';
      return { kind: 'rollback', severity: 'critical', key: `rollback:${r.service}@${e.revision}`, title: `Update ${verb}: ${r.service}`, text: `update of ${r.service} to ${e.revision.slice(0, 7)} ${verb} after ${r.failed}/${r.total} replica(s) failed: ${r.reason}`, fields: { service: r.service, revision: e.revision, action: r.action } };
    }
    case 'sync-failed':
      return { kind: 'sync-failed', severity: e.error.terminal ? 'critical' : 'warning', key: `sync:${e.error.code}`, title: `Sync failed: ${e.error.code}`, text: `sync of ${e.revision?.slice(0, 7) ?? 'the repository'} failed: ${e.error.message.split('\n')[0]}`, fields: { code: e.error.code } };
    case 'job-failed':
      return jobFailedAlert(e.failure);
  }
}

/** Lines of output a failed run's alert text shows (the `output` field has all the status has). */
const ALERT_TEXT_LINES = 10;

/** One alert per failed run (keyed by the run): reason, exit code, node and the last lines of output (already redacted). */
export function jobFailedAlert(f: JobFailure): Alert {
  const what = f.kind === 'CronJob' ? 'cronjob' : 'job';
  const exit = f.exitCode !== undefined ? `; last attempt exited with code ${f.exitCode}` : '';
  const node = f.node ? ` on node ${f.node}` : '';
  const tail = f.output?.length ? `\n\`\`\`\n${f.output.slice(-ALERT_TEXT_LINES).join('\n')}\n\`\`\`` : '';
  return {
    kind: 'job-failed', severity: 'critical', key: `job-failed:${f.kind}:${f.job}@${f.run}`, title: `${f.kind} failed: ${f.job}`,
    text: `${what} ${f.job} run ${f.run} failed: ${f.reason} (${f.failed} failed attempt(s)${exit}${node})${tail}`,
    fields: {
      job: f.job, kind: f.kind, run: f.run, reason: f.reason, failed: String(f.failed),
      ...(f.exitCode !== undefined ? { exitCode: String(f.exitCode) } : {}),
      node: f.node ?? 'default',
      ...(f.container ? { container: f.container } : {}),
      ...(f.finishedAt ? { finishedAt: f.finishedAt } : {}),
      ...(f.scheduledAt ? { scheduledAt: f.scheduledAt } : {}),
      ...(f.output ? { output: f.output.join('\n') } : {}),
    },
  };
}
