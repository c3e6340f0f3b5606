/**
 * Node memory pressure across passes: nodes over the high mark get their lowest-priority replicas stopped and take
 * no new replica for a cool-down (so the evicted ones are not placed right back). One-shot stats cost an engine call
 * per container, so usage is measured at most every PRESSURE_CHECK_MS, not on every pass.
 */
import { asBerthError } from '../model/errors.ts';
import type { RemoveAction } from '../model/plan.ts';
import type { DesiredState, ObservedState } from '../model/state.ts';
import type { ClusterView } from '../runtime/cluster.ts';
import type { Logger } from '../util/log.ts';
import { PRESSURE_CHECK_MS, PRESSURE_COOLDOWN_MS, pressureEvictions } from './pressure.ts';
import type { Cluster } from './types.ts';

export class PressureGuard {
  /** Nodes that were under memory pressure: no new replica until `until`. */
  private readonly pressure = new Map<string, { until: number; message: string }>();
  private checkedAt = Number.NEGATIVE_INFINITY;

  constructor(private readonly cluster: Cluster | undefined, private readonly log: Logger) {}

  /** The view with pressured nodes closed to new replicas and marked in their states, and the evictions to run. */
  async apply(view: ClusterView, desired: DesiredState, observed: ObservedState, now: number): Promise<{ view: ClusterView; evictions: RemoveAction[] }> {
    const c = this.cluster;
    let evictions: RemoveAction[] = [];
    if (c?.usage && now - this.checkedAt >= PRESSURE_CHECK_MS) {
      this.checkedAt = now;
      const running = observed.containers.filter((x) => x.status === 'running' && x.node && !view.unreachable.has(x.node));
      const usage = await c.usage(running.map((x) => x.id)).catch((err: unknown) => {
        this.log.warn('cannot read memory use; no pressure check this time', { error: asBerthError(err).message });
        return {};
      });
      const p = pressureEvictions({ nodes: view.nodes, observed, desired, usage, highMark: c.memoryHighMark ?? 0.9 });
      evictions = p.actions;
      for (const [node, message] of p.pressured) {
        this.pressure.set(node, { until: now + PRESSURE_COOLDOWN_MS, message });
        this.log.warn('node under memory pressure; stopping its lowest-priority replicas', { node, message, evicting: p.actions.filter((a) => a.container.node === node).map((a) => a.container.name).join(',') });
      }
    }
    for (const [node, until] of this.pressure) if (until.until <= now) this.pressure.delete(node);
    return {
      view: {
        ...view,
        nodes: view.nodes.map((n) => (this.pressure.has(n.name) ? { ...n, schedulable: false } : n)),
        states: view.states.map((st) => (this.pressure.has(st.name) ? { ...st, memoryPressure: this.pressure.get(st.name)!.message } : st)),
      },
      evictions,
    };
  }
}
