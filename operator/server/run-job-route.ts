/**
 * POST /v1/cronjobs/<namespace>/<name>/run: one run of a CronJob's template now, recorded like a scheduled run
 * (label berth.run=manual-<time>). Authenticated and authorized before it gets here (auth/policy.ts: trigger jobs in
 * the namespace) and written to the audit trail. Answers 201 once a pass started the run's container, 202 when none
 * did within the wait (the run is still asked for), 400/404/429/503 with the reason otherwise.
 */
import type http from 'node:http';
import type { RunAsk } from '../jobs/manual.ts';
import { safeDecode } from '../auth/policy.ts';
import { send } from '../registry/http-util.ts';

export interface RunJobDeps {
  /** Asks the reconciler for the run. */
  ask(key: string): RunAsk;
  /** Wakes the loop for a pass now. */
  trigger(reason: string): void;
  /** Resolves true once `started()` holds after some pass, false after `ms`. */
  untilPass(started: () => boolean, ms: number): Promise<boolean>;
  /** True when the status shows a container of `run` of CronJob `key`. */
  started(key: string, run: string): boolean;
  /** How long the answer waits for the start (default 8 s: under the CLI's 10 s answer deadline). */
  waitMs?: number;
}

/** Names are DNS labels (the manifest schema's); anything else is refused before a lookup. */
const NAME = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
export const RUN_JOB_PATH = /^\/v1\/cronjobs\/([^/]{1,80})\/([^/]{1,80})\/run$/;

export async function handleRunJob(req: http.IncomingMessage, res: http.ServerResponse, path: string, by: string, deps: RunJobDeps): Promise<void> {
  if (req.method !== 'POST') return send(res, 405, { error: 'use POST' });
  const m = RUN_JOB_PATH.exec(path);
  const [ns, name] = [m?.[1], m?.[2]].map((p) => safeDecode(p));
  if (!NAME.test(ns!) || !NAME.test(name!)) return send(res, 400, { error: 'the path is /v1/cronjobs/<namespace>/<name>/run, both DNS labels' });
  const key = `${ns}/${name}`;
  const asked = deps.ask(key);
  if (!asked.ok) return send(res, asked.status, { error: asked.error });
  deps.trigger(`run-job ${key} by ${by}`);
  const started = await deps.untilPass(() => deps.started(key, asked.run), deps.waitMs ?? 8_000);
  if (started) return send(res, 201, { cronJob: key, run: asked.run, started: true });
  send(res, 202, { cronJob: key, run: asked.run, started: false, message: `run ${asked.run} is asked for and not started yet: berth status shows it` });
}
