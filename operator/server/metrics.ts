/** Prometheus text metrics, updated after each pass. */
import type { PassResult } from '../reconciler/reconciler.ts';

export class Metrics {
  private passes = new Map<string, number>();
  private actions = new Map<string, number>();
  private durationSum = 0;
  private durationCount = 0;
  private ready = 0;
  private revision = '';

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
    ];
    return lines.join('\n') + '\n';
  }
}
