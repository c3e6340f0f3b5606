/**
 * Self-healing bookkeeping of one operator: crash-loop backoff of exited replicas, and services whose update
 * was rolled back or paused (so the loop does not flap between revisions: it retries when the spec changes).
 */
import { decideRestart, type RestartRecord } from '../healing/backoff.ts';
import type { CrashLoopInfo, HeldUpdate } from '../model/healing.ts';
import { LABELS } from '../model/keys.ts';
import type { Action } from '../model/plan.ts';
import type { DesiredState } from '../model/state.ts';
import type { RolloutOutcome } from '../apply/apply.ts';
import { effectiveDesired } from './plan-pass.ts';

export class Healing {
  private readonly restarts = new Map<string, RestartRecord>();
  readonly crashes = new Map<string, CrashLoopInfo>();
  readonly held = new Map<string, HeldUpdate>();

  /** Lets through the starts of exited replicas whose backoff expired; the others wait. Returns when to look again. */
  gateStarts(actions: Action[], now: number): { actions: Action[]; wakeAt?: number } {
    let wakeAt: number | undefined;
    const out: Action[] = [];
    for (const a of actions) {
      if (a.type !== 'start' || a.container.status === 'created') { out.push(a); continue; }
      const c = a.container;
      const slot = `${a.service}#${c.labels[LABELS.replica]}`;
      const exitedAt = c.finishedAt ? Date.parse(c.finishedAt) : now;
      const ranMs = c.startedAt && c.finishedAt ? Date.parse(c.finishedAt) - Date.parse(c.startedAt) : 0;
      const d = decideRestart(this.restarts.get(slot), exitedAt, ranMs, c.exitCode, now);
      this.restarts.set(slot, d.record);
      this.crashes.set(c.id, { service: a.service ?? '', replica: c.labels[LABELS.replica] ?? '?', restarts: d.record.restarts, exitCode: c.exitCode, retryAt: d.retryAt, crashLoop: d.crashLoop });
      if (d.allow) {
        out.push({ ...a, reason: `${a.reason}; restart ${d.record.restarts}${d.delayMs ? ` after ${d.delayMs / 1000} s backoff` : ''}` });
        continue;
      }
      wakeAt = Math.min(wakeAt ?? Infinity, d.retryAt!);
    }
    return { actions: out, wakeAt };
  }

  /** Forgets crash records of containers that are gone or running again. */
  prune(runningOrGone: (containerId: string) => boolean): void {
    for (const id of [...this.crashes.keys()]) if (runningOrGone(id)) this.crashes.delete(id);
  }

  /** Records updates that failed their health gate. */
  recordRollouts(rollouts: RolloutOutcome[], desired: DesiredState, previous: DesiredState | null): void {
    for (const r of rollouts) {
      if (r.action === 'continue') continue;
      const svc = desired.services.find((s) => s.key === r.service);
      if (svc) this.held.set(r.service, { action: r.action, failedSpecHash: svc.specHash, reason: r.reason, revision: desired.revision, previousRevision: previous?.revision ?? null });
    }
  }

  /** The desired state in force (see effectiveDesired); holds whose failed spec is no longer asked for are dropped. */
  effective(desired: DesiredState, previous: DesiredState | null): DesiredState {
    for (const svc of desired.services) if (this.held.get(svc.key)?.failedSpecHash !== svc.specHash) this.held.delete(svc.key);
    return effectiveDesired(desired, this.held, previous);
  }
}
