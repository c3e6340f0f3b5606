/** `berth apply`: one pass against a revision; exit 0 only when converged. */
import type { Flags } from '../settings/flags.ts';
import { renderText } from '../diff/render.ts';
import { ValidationError, formatIssue } from '../model/errors.ts';
import { settingsFor } from '../settings/settings.ts';
import { renderStatusText } from '../status/render.ts';
import { DEFAULT_NODE_GRACE_MS, clusterOf, connectEngine, connectSource, createMonitor, logger, reconciler, registryAccess, secretStore, secretsOf, type Io } from './shared.ts';

export async function apply(flags: Flags, io: Io): Promise<number> {
  const s = settingsFor('apply', flags);
  const redact = secretsOf(s);
  const log = redact.logger(logger(s.log));
  const images = registryAccess(s, log, redact);
  const [source, { runtime, pool }] = await Promise.all([connectSource(s), connectEngine(s, DEFAULT_NODE_GRACE_MS, log, undefined, images)]);
  const monitor = createMonitor(s.stateDir, runtime, log);
  // One pass: the revision's Nodes are pinged once before placement (berth run's pool pings them every second).
  const cluster = clusterOf(pool, runtime, { settle: () => pool.pingAll() });
  const rec = reconciler(s, source, runtime, log, { keepLastGood: false, drift: s.drift, monitor, redact, cluster, images, secrets: secretStore(s, redact) });
  const r = await rec.pass({ revision: s.revision });
  await rec.flushStatus();
  monitor.stop();
  pool.stop();
  if (r.error instanceof ValidationError) io.err(r.error.issues.map(formatIssue).join('\n'));
  else if (r.error) io.err(`berth: ${r.error.code}: ${r.error.message}`);
  if (r.plan) io.out(renderText(r.plan));
  io.out(renderStatusText(r.status));
  return r.converged ? 0 : 1;
}
