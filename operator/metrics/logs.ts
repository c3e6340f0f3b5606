/** The log store's size, ingest and health (Logs.report() of logs/service.ts), read once per scrape. */
import type { Registry } from 'prom-client';
import type { LogsReport } from '../logs/service.ts';
import { counterFrom, gaugeFrom, shared } from './collect.ts';

export function registerLogMetrics(registry: Registry, report: () => LogsReport): void {
  const read = shared(report);
  const one = (f: (r: LogsReport) => number) => () => [[{}, f(read())] as const];
  gaugeFrom({ registry, name: 'berth_log_store_up', help: '1 while the log store is open and written without error.' }, one((r) => (r.open && !r.error ? 1 : 0)));
  gaugeFrom({ registry, name: 'berth_log_store_bytes', help: 'Bytes the log store uses on disk (free pages excluded).' }, one((r) => r.bytes));
  gaugeFrom({ registry, name: 'berth_log_store_max_bytes', help: 'The log store\'s bound (--log-max-size).' }, one((r) => r.maxBytes));
  gaugeFrom({ registry, name: 'berth_log_store_lines', help: 'Lines kept in the log store.' }, one((r) => r.lines));
  counterFrom({ registry, name: 'berth_log_lines_ingested_total', help: 'Container output lines stored since the operator started (rate() is the ingest rate).' }, one((r) => r.ingested));
  gaugeFrom({ registry, name: 'berth_log_followers', help: 'Containers whose output is being followed.' }, one((r) => r.following));
  gaugeFrom({ registry, name: 'berth_log_queued_lines', help: 'Lines read and not yet stored.' }, one((r) => r.queuedLines));
  gaugeFrom({ registry, name: 'berth_log_ingest_paused', help: '1 while collection is paused because the queue is full.' }, one((r) => (r.paused ? 1 : 0)));
  counterFrom({ registry, name: 'berth_log_lines_forwarded_total', help: 'Lines handed to --log-forward since the operator started.' }, () => {
    const r = read();
    return r.forwarded === undefined ? [] : [[{}, r.forwarded] as const];
  });
}
