/**
 * `berth logs <ns>/<service>[/<replica>]` and `berth events`: the log store of a running berth (GET /v1/logs,
 * GET /v1/events), filtered by the server (one parser: a bad filter is its 400, printed in one line, exit 1);
 * `-f` follows as Server-Sent Events until interrupted. Text lines are `time replica stream| text`.
 */
import type { Flags } from '../settings/flags.ts';
import { settingsFor } from '../settings/settings.ts';
import type { StoredLine, StoreEvent } from '../logs/store.ts';
import { apiJson, apiStream, clientFailure } from './api-client.ts';
import type { Io } from './shared.ts';
import { formatEntry } from './output.ts';

export async function logs(flags: Flags, positionals: string[], io: Io): Promise<number> {
  const [target, ...more] = positionals;
  if (!target || more.length || !/^[^/\s]+\/[^/\s]+(\/[^/\s]+)?$/.test(target)) {
    io.err('berth: usage: berth logs <namespace>/<service>[/<replica>] [--since 10m] [--grep RE] [-f] ...');
    return 1;
  }
  return fetchOrFollow(io, () => {
    const s = settingsFor('logs', flags);
    s.params.set('service', target);
    const show = (l: StoredLine): void => io.out(formatEntry(s.output, l, () => `${l.time} ${`${l.service}/${l.replica}`.padEnd(24)} ${l.stream === 'stderr' ? 'err' : 'out'}| ${l.text}`));
    return { s, route: `v1/logs?${s.params}`, key: 'lines', show: show as (e: unknown) => void };
  });
}

export async function events(flags: Flags, io: Io): Promise<number> {
  return fetchOrFollow(io, () => {
    const s = settingsFor('events', flags);
    const show = (e: StoreEvent): void => io.out(formatEntry(s.output, e, () => `${e.time} ${e.type.padEnd(13)} ${e.namespace ? `${e.namespace}/${e.service}` : '-'}${e.reason ? ` (${e.reason})` : ''}: ${e.message}`));
    return { s, route: `v1/events?${s.params}`, key: 'events', show: show as (e: unknown) => void };
  });
}

async function fetchOrFollow(io: Io, setup: () => { s: { client: Parameters<typeof apiJson>[0]; follow: boolean }; route: string; key: string; show: (e: unknown) => void }): Promise<number> {
  try {
    const { s, route, key, show } = setup();
    if (s.follow) await apiStream(s.client, route, (_type, data) => show(JSON.parse(data)));
    else for (const e of (await apiJson<Record<string, unknown[]>>(s.client, 'GET', route))[key] ?? []) show(e);
    return 0;
  } catch (err) {
    const f = clientFailure(err);
    io.err(f.line);
    return f.exit;
  }
}
