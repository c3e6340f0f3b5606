/** The listeners (GET /v1/proxies, read again after each status change): who publishes each, Route rules and weights, ready backends, counters. */
import type { Listener, Status } from '../types.ts';
import { short, useJson } from '../ui.tsx';

function Rules({ l }: { l: Listener }) {
  if (!l.rules?.length) return <>{l.algorithm ?? ''}</>;
  return (
    <ul class="rules">{l.rules.map((r) => {
      const total = r.backends.reduce((n, b) => n + b.weight, 0);
      return (
        <li data-rule={r.source}>
          <code>{r.host ?? '*'}{r.pathPrefix ?? '/'}</code> →{' '}
          {r.backends.map((b, i) => <span>{i > 0 && ', '}{b.service} <strong>{total > 0 ? `${Math.round((b.weight / total) * 100)}%` : '0%'}</strong> <span class="muted">(weight {b.weight})</span></span>)}
          <div class="muted">{r.source}</div>
        </li>
      );
    })}</ul>
  );
}

export function Traffic({ status, at }: { status: Status; at: number }) {
  const { data, error } = useJson<{ proxies: Listener[] }>('/v1/proxies', at, 1000);
  const listeners = data?.proxies ?? null;
  return (
    <section aria-label="traffic">
      <h1>Traffic</h1>
      {error && <div class="error" role="alert">{error}</div>}
      {listeners && !listeners.length && <p class="muted">No listener: no Service publishes a port and no Route is in revision {short(status.revision.applied)}.</p>}
      {listeners && listeners.length > 0 && (
        <div class="scroll">
          <table>
            <thead><tr><th>Listener</th><th>Published by</th><th>Rules</th><th>Ready backends</th><th>Requests</th></tr></thead>
            <tbody>{listeners.map((l) => (
              <tr data-listener={l.address}>
                <td><code>{l.address}</code> <span class="muted">{l.protocol}{l.tls ? ' tls' : ''} · {l.kind}</span>{l.error && <div class="message">{l.error}</div>}</td>
                <td>{l.owners.join(', ')}</td>
                <td><Rules l={l} /></td>
                <td>{Object.entries(l.backends).map(([svc, n]) => <div>{svc}: <strong>{n}</strong></div>)}</td>
                <td>{l.stats.total} <span class="muted">({l.stats.active} open, {l.stats.failedConnects} failed connects)</span></td>
              </tr>
            ))}</tbody>
          </table>
        </div>
      )}
    </section>
  );
}
