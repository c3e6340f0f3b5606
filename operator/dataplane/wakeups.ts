/**
 * The operator's side of hold-and-wake (operator/proxy/wake.ts): a loop long-polling the proxy process's
 * `GET /wakeups` and handing every answer that names services to `onWake` (start a replica of each). Errors (no proxy
 * process yet, a restart, a wrong key) are retried after a growing pause, never in a tight loop; the key file is
 * read again on every poll, so a proxy process started again with a new key is followed.
 */
import fs from 'node:fs/promises';
import { controlRequest } from './control-client.ts';
import { CONTROL_TIMEOUT_MS, type WakeupsAnswer } from './protocol.ts';

/** The control socket and key file of a proxy process (a Dataplane's `paths`). */
export interface WakeupSource {
  socket: string;
  /** Path of the key file. */
  key: string;
}

export interface WatchWakeupsOptions {
  /** How long one poll waits on the proxy side (bounded there by 30 s); default 25 s. */
  waitMs?: number;
  /** First pause after an error, doubled up to maxBackoffMs; default 250 ms. */
  backoffMs?: number;
  maxBackoffMs?: number;
}

export interface WakeupWatch {
  /** Ends the loop and the poll in flight; onWake is not called again. */
  stop(): void;
}

/** An empty answer faster than this is not polled again at once (a proxy answering early must not spin the loop). */
const MIN_EMPTY_POLL_MS = 200;

/** Long-polls `source` for wakeups until stopped; `onWake` gets the services of each answer (never an empty list). */
export function watchWakeups(source: WakeupSource, onWake: (services: string[]) => void, opts: WatchWakeupsOptions = {}): WakeupWatch {
  const waitMs = Math.max(0, Math.min(opts.waitMs ?? 25_000, 30_000));
  const firstBackoff = opts.backoffMs ?? 250;
  const maxBackoff = opts.maxBackoffMs ?? 5_000;
  const stop = new AbortController();
  const pause = (ms: number): Promise<void> => new Promise((resolve) => {
    const t = setTimeout(done, ms);
    function done(): void {
      clearTimeout(t);
      stop.signal.removeEventListener('abort', done);
      resolve();
    }
    stop.signal.addEventListener('abort', done, { once: true });
  });
  void (async () => {
    let backoff = firstBackoff;
    while (!stop.signal.aborted) {
      const started = Date.now();
      let services: string[] | undefined;
      try {
        const key = (await fs.readFile(source.key, 'utf8')).trim();
        const r = await controlRequest({ socket: source.socket, key }, 'GET', `/wakeups?wait=${waitMs}`, undefined, waitMs + CONTROL_TIMEOUT_MS, stop.signal);
        const body = r.body as WakeupsAnswer | null;
        if (r.status === 200 && Array.isArray(body?.services)) services = body.services.filter((s): s is string => typeof s === 'string');
      } catch {
        // no proxy process (yet), a restart, the key file missing: tried again after the pause
      }
      if (stop.signal.aborted) return;
      if (services === undefined) {
        await pause(backoff);
        backoff = Math.min(backoff * 2, maxBackoff);
        continue;
      }
      backoff = firstBackoff;
      if (services.length > 0) {
        try {
          onWake(services);
        } catch {
          // the caller's problem; the loop goes on
        }
      } else if (Date.now() - started < MIN_EMPTY_POLL_MS) {
        await pause(MIN_EMPTY_POLL_MS);
      }
    }
  })();
  return { stop: () => stop.abort() };
}
