/**
 * What berth did and why, as events for the log store (pure): every applied action with its reason and cause (an
 * apply error with it), failed passes, rollbacks, crash loops, failed Job runs, health transitions and image pulls.
 * Services are named by namespace and name; every message passes the redactor before it is stored.
 */
import type { ApplyResult } from '../apply/apply.ts';
import { actionView } from '../diff/render.ts';
import type { HealthChange } from '../health/monitor.ts';
import type { PassResult, ReconcilerEvent } from '../reconciler/types.ts';
import type { NewEvent } from './store.ts';

type Redact = (text: string) => string;

function split(key: string | undefined): { namespace?: string; service?: string } {
  if (!key) return {};
  const i = key.indexOf('/');
  return i < 0 ? { service: key } : { namespace: key.slice(0, i), service: key.slice(i + 1) };
}

/** The events of one pass: its applied actions and pulls, and its failure. */
export function passEvents(r: Pick<PassResult, 'applied' | 'error' | 'revision'>, ts: number, redact: Redact): NewEvent[] {
  const out: NewEvent[] = [];
  for (const o of (r.applied as ApplyResult | null)?.outcomes ?? []) {
    const v = actionView(o.action);
    const what = v.container ?? v.volume ?? v.network ?? (v.replica !== undefined ? `replica ${v.replica}` : v.completion !== undefined ? `completion ${v.completion} attempt ${v.attempt}` : v.image ?? '');
    const message = `${v.type}${what ? ` ${what}` : ''}: ${v.reason}${o.error ? `; failed: ${o.error.message.split('\n')[0]}` : ''}`;
    out.push({ ts, type: o.error ? 'apply-failed' : 'applied', ...split(v.service ?? v.job), reason: v.cause, message: redact(message) });
  }
  for (const p of ((r.applied as ApplyResult | null)?.pulls ?? []).filter((x) => x.action === 'pulled')) {
    out.push({ ts, type: 'pulled', ...split(p.service), message: redact(`pulled ${p.ref}${p.node ? ` on ${p.node}` : ''}: ${p.layers} layer(s), ${p.bytes} bytes in ${Math.round(p.ms)} ms`) });
  }
  if (r.error) out.push({ ts, type: 'pass-failed', reason: r.error.code, message: redact(r.error.message.split('\n')[0] ?? '') });
  return out;
}

/** A reconciler event as a stored event; 'applying' is not one (its actions are recorded once applied). */
export function reconcilerEvent(e: ReconcilerEvent, ts: number, redact: Redact): NewEvent | undefined {
  switch (e.kind) {
    case 'rollback':
      return { ts, type: e.rollout.action === 'rollback' ? 'rollback' : e.rollout.action === 'pause' ? 'rollout-paused' : 'rollout-continued', ...split(e.rollout.service), reason: 'health', message: redact(`${e.rollout.failed}/${e.rollout.total} new replicas failed: ${e.rollout.reason}`) };
    case 'crashloop':
      return { ts, type: 'crashloop', ...split(e.crash.service), reason: `exit ${e.crash.exitCode}`, message: `replica ${e.crash.replica} restarted ${e.crash.restarts} times, last exit code ${e.crash.exitCode}` };
    case 'sync-failed':
      return { ts, type: 'sync-failed', reason: e.error.code, message: redact(e.error.message.split('\n')[0] ?? '') };
    case 'job-failed':
      return { ts, type: 'job-failed', ...split(e.failure.job), reason: e.failure.reason, message: redact(`${e.failure.kind} run ${e.failure.run} failed (${e.failure.reason})${e.failure.exitCode !== undefined ? `, exit code ${e.failure.exitCode}` : ''}${e.failure.node ? ` on ${e.failure.node}` : ''}`) };
    default:
      return undefined;
  }
}

/** A replica's health transition (Progressing -> Healthy, Healthy -> Unhealthy, ...); none when the health is unchanged. */
export function healthEvent(c: HealthChange, ts: number, redact: Redact): NewEvent | undefined {
  if (c.before?.health === c.after.health) return undefined;
  return { ts, type: 'health', ...split(c.service), reason: c.after.health, message: redact(`replica ${c.replica} (${c.name}): ${c.before?.health ?? 'new'} -> ${c.after.health}${c.after.message ? `: ${c.after.message}` : ''}`) };
}
