/** Prometheus text metrics, updated after each pass. */
import type { PassResult } from '../reconciler/reconciler.ts';
import type { BodyStats } from './body-reader.ts';
import type { GateStats } from './conn-guard.ts';

export class Metrics {
  private passes = new Map<string, number>();
  private actions = new Map<string, number>();
  private durationSum = 0;
  private durationCount = 0;
  private ready = 0;
  private revision = '';
  private fetchFailures = 0;
  private sourceUp = 1;

  /** Records one pass and how long it took. */
  recordPass(r: PassResult, seconds: number): void {
    const result = r.error ? (r.error.terminal ? 'stalled' : 'error') : 'ok';
    this.passes.set(result, (this.passes.get(result) ?? 0) + 1);
    this.durationSum += seconds;
    this.durationCount++;
    for (const o of r.applied?.outcomes ?? []) {
      const key = `type="${o.action.type}",cause="${o.action.cause}",result="${o.error ? 'error' : 'ok'}"`;
      this.actions.set(key, (this.actions.get(key) ?? 0) + 1);
    }
    this.ready = r.status.conditions.find((c) => c.type === 'Ready')?.status === 'True' ? 1 : 0;
    this.revision = r.status.revision.applied ?? '';
    if (r.fetchError) this.fetchFailures++;
    this.sourceUp = r.fetchError ? 0 : 1;
  }

  /** The exposition text. */
  render(): string {
    const lines = [
      '# HELP berth_passes_total Reconcile passes by result.', '# TYPE berth_passes_total counter',
      ...[...this.passes].map(([k, v]) => `berth_passes_total{result="${k}"} ${v}`),
      '# HELP berth_pass_duration_seconds Time spent in reconcile passes.', '# TYPE berth_pass_duration_seconds summary',
      `berth_pass_duration_seconds_sum ${this.durationSum}`, `berth_pass_duration_seconds_count ${this.durationCount}`,
      '# HELP berth_actions_total Actions applied to the engine.', '# TYPE berth_actions_total counter',
      ...[...this.actions].map(([k, v]) => `berth_actions_total{${k}} ${v}`),
      '# HELP berth_ready 1 when the last pass converged.', '# TYPE berth_ready gauge', `berth_ready ${this.ready}`,
      '# HELP berth_applied_revision_info The applied revision.', '# TYPE berth_applied_revision_info gauge',
      `berth_applied_revision_info{revision="${this.revision}"} 1`,
      '# HELP berth_source_fetch_failures_total Passes whose git fetch failed (healing went on from the revision in force).', '# TYPE berth_source_fetch_failures_total counter',
      `berth_source_fetch_failures_total ${this.fetchFailures}`,
      '# HELP berth_source_up 0 while the last fetch of the repository failed.', '# TYPE berth_source_up gauge', `berth_source_up ${this.sourceUp}`,
    ];
    return lines.join('\n') + '\n';
  }
}

/** Exposition lines of the traffic limits: body reading on the API server and every listener's connections. */
export function renderLimitMetrics(bodies: BodyStats, gates: readonly GateStats[]): string {
  const label = (s: string) => s.replace(/[\\"\n]/g, '_');
  const lines = [
    '# HELP berth_http_bodies_reading Request bodies being read by the API server.', '# TYPE berth_http_bodies_reading gauge',
    `berth_http_bodies_reading ${bodies.reading}`,
    '# HELP berth_http_body_buffered_bytes Bytes buffered for request bodies being read.', '# TYPE berth_http_body_buffered_bytes gauge',
    `berth_http_body_buffered_bytes ${bodies.bufferedBytes}`,
    '# HELP berth_http_bodies_refused_total Request bodies refused, by code.', '# TYPE berth_http_bodies_refused_total counter',
    ...Object.entries(bodies.refused).map(([code, n]) => `berth_http_bodies_refused_total{code="${code}"} ${n}`),
    '# HELP berth_connections_open Client connections open, by listener.', '# TYPE berth_connections_open gauge',
    ...gates.map((g) => `berth_connections_open{listener="${label(g.name)}"} ${g.open}`),
    '# HELP berth_connections_refused_total Client connections closed at once by a limit, by listener and limit.', '# TYPE berth_connections_refused_total counter',
    ...gates.flatMap((g) => Object.entries(g.refused).map(([reason, n]) => `berth_connections_refused_total{listener="${label(g.name)}",limit="${reason}"} ${n}`)),
  ];
  return lines.join('\n') + '\n';
}
