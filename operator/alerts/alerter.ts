/** Alerts to webhook receivers (Slack-compatible JSON), deduplicated by key, never throwing, never logging URL secrets. */
import { BerthError } from '../model/errors.ts';
import type { Logger } from '../util/log.ts';
import { decideMute, forgetSend } from './mute.ts';
import { alertPayload, deliver, parseReceiver, type Receiver } from './webhook.ts';

export const DEFAULT_MUTE_MS = 10 * 60_000;
export const DEFAULT_ALERT_TIMEOUT_MS = 5_000;

/** Something worth telling a human. */
export interface Alert {
  kind: 'health' | 'crashloop' | 'rollback' | 'sync-failed' | 'recovered' | 'job-failed';
  severity: 'info' | 'warning' | 'critical';
  /** Dedupe key, e.g. 'crashloop:shop/web#2'; a `recovered` alert carries the key of the alert it resolves. */
  key: string;
  /** Short headline, e.g. 'CrashLoop'. */
  title: string;
  /** One line, e.g. 'shop/web replica 2 restarted 4 times (exit 1); next restart in 8s'. */
  text: string;
  fields?: Record<string, string>;
}

/** Delivery counters. */
export interface AlertStats {
  /** Successful POSTs (one per receiver). */
  sent: number;
  /** Alerts muted as repeats. */
  muted: number;
  /** Failed POSTs (one per receiver: refused, non-2xx, timeout). */
  failed: number;
}

/** Options of createAlerter. */
export interface AlerterOptions {
  /** Webhook URLs; each gets every alert. Validated at once (BerthError E_CONFIG). */
  urls: string[];
  /** Repeats of one key within this window are muted; default 10 min. */
  muteMs?: number;
  log: Logger;
  instance: string;
  /** Clock, ms since the epoch (tests). */
  now?: () => number;
  /** Per-POST timeout, default 5 s. */
  timeoutMs?: number;
}

/** Sends alerts. */
export interface Alerter {
  /** Sends `a` to every receiver in parallel unless muted; resolves once all answered or timed out; never rejects. */
  send(a: Alert): Promise<void>;
  /** Sent / muted / failed counts so far. */
  stats(): AlertStats;
}

/** Creates an alerter; throws BerthError E_CONFIG on a bad URL (naming its position, not its text) or bad durations. */
export function createAlerter(opts: AlerterOptions): Alerter {
  const receivers = opts.urls.map(parseReceiver);
  const muteMs = opts.muteMs ?? DEFAULT_MUTE_MS;
  const timeoutMs = opts.timeoutMs ?? DEFAULT_ALERT_TIMEOUT_MS;
  if (!(muteMs >= 0)) throw new BerthError('E_CONFIG', `alert mute window must be >= 0 ms, got ${muteMs}`);
  if (!(timeoutMs > 0)) throw new BerthError('E_CONFIG', `alert timeout must be > 0 ms, got ${timeoutMs}`);
  const now = opts.now ?? Date.now;
  const { log, instance } = opts;
  const stats: AlertStats = { sent: 0, muted: 0, failed: 0 };
  let lastSent: Map<string, number> = new Map();

  const send = async (a: Alert): Promise<void> => {
    const at = now();
    const decision = decideMute(lastSent, a, at, muteMs);
    lastSent = decision.next;
    if (decision.muted) {
      stats.muted += 1;
      log.debug('alert muted', { kind: a.kind, key: a.key });
      return;
    }
    if (receivers.length === 0) return;
    const body = JSON.stringify(alertPayload(instance, a, at));
    const results = await Promise.all(receivers.map((r) => deliverOne(r, body, a)));
    if (!results.some(Boolean)) lastSent = forgetSend(lastSent, a.key, at); // nobody heard it: do not mute the next one
  };

  const deliverOne = async (r: Receiver, body: string, a: Alert): Promise<boolean> => {
    try {
      const result = await deliver(r, body, timeoutMs);
      if (result.ok) {
        stats.sent += 1;
        log.debug('alert sent', { host: r.host, kind: a.kind, key: a.key });
        return true;
      }
      stats.failed += 1;
      log.warn('alert delivery failed', { host: r.host, kind: a.kind, key: a.key, reason: result.reason });
    } catch {
      stats.failed += 1; // deliver() never throws; belt and braces for the "never rejects" promise
      log.warn('alert delivery failed', { host: r.host, kind: a.kind, key: a.key, reason: 'unexpected error' });
    }
    return false;
  };

  return { send, stats: () => ({ ...stats }) };
}
