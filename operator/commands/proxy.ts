/** `berth proxy`: the data-plane process until SIGINT, SIGTERM or its pid file names another; `--stop` stops it. */
import cluster from 'node:cluster';
import type { Flags } from '../settings/flags.ts';
import { settingsFor } from '../settings/settings.ts';
import { startDataplaneProcess, stopDataplaneProcess } from '../dataplane/process.ts';
import { runProxyWorker } from '../dataplane/worker.ts';
import type { Io } from './shared.ts';
import { createLogger } from '../util/log.ts';

export async function proxy(flags: Flags, io: Io): Promise<number> {
  const s = settingsFor('proxy', flags);
  if (s.stop) {
    const r = await stopDataplaneProcess(s);
    (r.outcome === 'refused' ? io.err : io.out)(r.message);
    return r.outcome === 'refused' ? 1 : 0; // nothing running is a successful stop (a unit's ExecStop, a script)
  }
  const log = createLogger({ level: s.log.level, json: s.log.json });
  if (cluster.isWorker) { // forked by the primary of --proxy-workers N with the same flags: serve until it says stop
    await runProxyWorker(s, log);
    process.exit(0); // whatever a closed listener still holds must not keep a stopped worker alive
  }
  const dp = await startDataplaneProcess(s, log);
  const reason = await new Promise<string>((resolve) => {
    process.once('SIGINT', () => resolve('SIGINT'));
    process.once('SIGTERM', () => resolve('SIGTERM'));
    void dp.done.then(resolve);
  });
  log.info('proxy process stopping', { reason });
  // A stop is bounded: whatever a listener still holds after this long must not keep a stopped data plane alive.
  setTimeout(() => process.exit(0), 5_000).unref();
  await dp.close();
  return 0;
}
