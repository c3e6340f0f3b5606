/**
 * A service: its replicas (node, address, health with the probe's message, restarts), held updates with why, its
 * autoscaler's decisions, drift-correction pause and resume (the operator role), the listeners that send it traffic,
 * charts of its request rate, latency, CPU and memory (GET /v1/series), and its live logs and events.
 */
import { useEffect, useLayoutEffect, useRef, useState } from 'preact/hooks';
import { ApiError, post, stream } from '../api.ts';
import { Chart } from '../chart.tsx';
import type { Event, Line, Listener, Series, Status } from '../types.ts';
import { Badge, short, time, useJson } from '../ui.tsx';
import { PausedBanner } from './overview.tsx';

interface Endpoint { id: string; replica?: string; address: string; port: number; ready: boolean; node: string; source: string }

function Logs({ service }: { service: string }) {
  const [lines, setLines] = useState<Line[]>([]);
  const [search, setSearch] = useState('');
  const [since, setSince] = useState('1h');
  const [error, setError] = useState('');
  const box = useRef<HTMLPreElement>(null);
  // Kept at the newest line while the reader is at the bottom; left alone once they scroll up.
  const atBottom = useRef(true);
  useLayoutEffect(() => {
    if (box.current && atBottom.current) box.current.scrollTop = box.current.scrollHeight;
  }, [lines]);
  useEffect(() => {
    const abort = new AbortController();
    setLines([]);
    setError('');
    const q = new URLSearchParams({ service, since, tail: '500', follow: '1', ...(search.trim() ? { search: search.trim() } : {}) });
    void stream(`/v1/logs?${q}`, (type, data) => {
      if (type !== 'line') return;
      const l = JSON.parse(data) as Line;
      setLines((ls) => (ls.length >= 1000 ? [...ls.slice(-999), l] : [...ls, l]));
    }, abort.signal, (e) => setError(e.message));
    return () => abort.abort();
  }, [service, search, since]);
  return (
    <section aria-label="logs">
      <h2>Logs</h2>
      <div class="filters">
        <label>Search <input type="search" value={search} onChange={(e) => setSearch((e.target as HTMLInputElement).value)} placeholder="words" /></label>
        <label>Since <select value={since} onChange={(e) => setSince((e.target as HTMLSelectElement).value)}>{['10m', '1h', '24h', '7d'].map((s) => <option value={s}>{s}</option>)}</select></label>
        <span class="muted">{lines.length} lines, following</span>
      </div>
      {error && <div class="error" role="alert">{error}</div>}
      <pre class="logs" data-testid="logs" ref={box} tabIndex={0} aria-label="log lines" onScroll={(e) => { const el = e.currentTarget; atBottom.current = el.scrollHeight - el.scrollTop - el.clientHeight < 24; }}>{lines.map((l) => <div class={l.stream === 'stderr' ? 'stderr' : ''}><span class="muted">{l.time.slice(11, 23)} {l.replica}</span> {l.text}</div>)}</pre>
    </section>
  );
}

function Events({ service }: { service: string }) {
  const [events, setEvents] = useState<Event[]>([]);
  useEffect(() => {
    const abort = new AbortController();
    setEvents([]);
    void stream(`/v1/events?${new URLSearchParams({ service, since: '24h', follow: '1' })}`, (type, data) => {
      if (type === 'event') setEvents((es) => [JSON.parse(data) as Event, ...es].slice(0, 200));
    }, abort.signal);
    return () => abort.abort();
  }, [service]);
  return (
    <section aria-label="events">
      <h2>Events</h2>
      <ul class="events">{events.map((e) => <li data-event={e.type}><span class="muted">{time(e.time)}</span> <strong>{e.type}</strong>{e.reason && <span class="muted"> ({e.reason})</span>} {e.message}</li>)}</ul>
    </section>
  );
}

/** Pause or resume drift correction: recorded as an event with who did it; a viewer is refused with the reason. */
function DriftControl({ status, keyName }: { status: Status; keyName: string }) {
  const [reason, setReason] = useState('');
  const [msg, setMsg] = useState('');
  const paused = status.driftPaused?.[keyName];
  const [ns, name] = keyName.split('/');
  const call = async (what: 'pause-drift' | 'resume-drift') => {
    setMsg('asking…');
    try {
      await post(`/v1/services/${encodeURIComponent(ns!)}/${encodeURIComponent(name!)}/${what}`, what === 'pause-drift' && reason.trim() ? { reason: reason.trim() } : undefined);
      setMsg(what === 'pause-drift' ? 'paused' : 'resumed');
    } catch (e) {
      setMsg(e instanceof ApiError && e.status === 403 ? `refused: ${e.message}` : `failed: ${(e as Error).message}`);
    }
  };
  return (
    <section aria-label="drift correction" class="filters">
      {paused ? (
        <button type="button" onClick={() => call('resume-drift')}>Resume drift correction</button>
      ) : (
        <form onSubmit={(e) => { e.preventDefault(); void call('pause-drift'); }} class="filters">
          <label>Reason <input value={reason} maxLength={200} onInput={(e) => setReason((e.target as HTMLInputElement).value)} placeholder="why (optional)" /></label>
          <button type="submit">Pause drift correction</button>
        </form>
      )}
      <span role="status" class="muted">{msg}</span>
    </section>
  );
}

/**
 * The charts' points are taken every step whether or not the status changes, so this one reader has a clock: it reads
 * again every step (at least 5 s) while the page is visible, and not at all in a hidden tab.
 */
function useTick(ms: number): number {
  const [tick, setTick] = useState(0);
  useEffect(() => {
    const timer = setInterval(() => { if (document.visibilityState === 'visible') setTick((t) => t + 1); }, ms);
    return () => clearInterval(timer);
  }, [ms]);
  return tick;
}

function Charts({ keyName, at }: { keyName: string; at: number }) {
  const [stepMs, setStepMs] = useState(10_000);
  const tick = useTick(Math.max(5000, stepMs));
  const { data, error } = useJson<Series>(`/v1/series?${new URLSearchParams({ service: keyName, since: '15m' })}`, `${at} ${tick}`, 4000);
  useEffect(() => { if (data && data.stepMs !== stepMs) setStepMs(data.stepMs); }, [data]);
  if (error) return <p class="muted">Charts: {error}</p>;
  if (!data) return null;
  return (
    <section aria-label="charts" class="charts">
      <Chart title="Requests" unit="/s" t={data.t} lines={[{ label: 'rate', values: data.rps }]} />
      <Chart title="Latency" unit="ms" t={data.t} lines={[{ label: 'p50', values: data.p50 }, { label: 'p95', values: data.p95 }]} />
      <Chart title="CPU" unit="cores" t={data.t} lines={[{ label: 'cpu', values: data.cpu }]} />
      <Chart title="Memory" unit="MiB" t={data.t} lines={[{ label: 'memory', values: data.memory.map((v) => (v === null ? null : v / 1048576)) }]} />
    </section>
  );
}

export function ServicePage({ status, keyName, at }: { status: Status; keyName: string; at: number }) {
  const s = status.services[keyName];
  const [ns, name] = keyName.split('/');
  // Only a service the registry has (one with a port, or external endpoints) has endpoints to ask for.
  const registered = useJson<{ services: { name: string }[] }>(s ? '/v1/services' : null, at, 2000);
  const known = registered.data?.services.some((r) => r.name === keyName) ?? false;
  const endpoints = useJson<{ endpoints: Endpoint[] }>(s && known ? `/v1/services/${encodeURIComponent(ns!)}/${encodeURIComponent(name!)}/endpoints` : null, at);
  const proxies = useJson<{ proxies: Listener[] }>(s ? '/v1/proxies' : null, at, 2000);
  if (!s) return <p>No service {keyName} in revision {short(status.revision.applied)}. <a href="#/">Back</a></p>;
  const held = status.held[keyName];
  const byReplica = new Map((endpoints.data?.endpoints ?? []).filter((e) => e.replica !== undefined).map((e) => [e.replica!, e]));
  const externals = (endpoints.data?.endpoints ?? []).filter((e) => e.source === 'external');
  const listeners = (proxies.data?.proxies ?? []).filter((l) => keyName in l.backends);
  const drifted = (status.drift ?? []).filter((d) => s.replicas.some((r) => d.includes(r.container)) || d.includes(`${keyName} #`));
  return (
    <>
      <p><a href="#/">← services</a></p>
      <h1>{keyName} <Badge health={s.health} /></h1>
      {s.message && <p class="message">{s.message}</p>}
      {held && <section class="error" role="alert" aria-label="held update">Update {held.action === 'rollback' ? 'rolled back' : 'paused'} at {short(held.revision)}: {held.reason}</section>}
      <PausedBanner status={status} only={keyName} />
      {status.driftPaused?.[keyName] && drifted.length > 0 && <ul class="message" aria-label="drift not corrected">{drifted.map((d) => <li>{d}</li>)}</ul>}
      <p>{s.ready}/{s.desired} ready, {s.running} running · <code>{s.image}</code>{s.digest && <span class="muted"> {s.digest}</span>}</p>
      <DriftControl status={status} keyName={keyName} />
      {s.autoscale && (
        <section aria-label="autoscale">
          <h2>Autoscale</h2>
          <p>{s.autoscale.min}–{s.autoscale.max} replicas, now {s.autoscale.replicas}</p>
          <ul class="events">{(s.autoscale.decisions ?? []).slice(0, 5).map((d) => <li><span class="muted">{time(d.at)}</span> {d.from} → {d.to}: {d.reason}</li>)}</ul>
        </section>
      )}
      <h2>Replicas</h2>
      <div class="scroll">
        <table>
          <thead><tr><th>Replica</th><th>Container</th><th>Node</th><th>Address</th><th>Health</th><th>Ready</th><th>Restarts</th></tr></thead>
          <tbody>{s.replicas.map((r) => {
            const ep = byReplica.get(r.replica);
            return <tr data-replica={r.replica}><td>{r.replica}</td><td><code>{r.container}</code></td><td>{r.node ?? 'local'}</td><td>{ep ? <code>{ep.address}:{ep.port}</code> : '—'}</td><td><Badge health={r.health} />{r.message && <div class="message">{r.message}</div>}</td><td>{r.ready ? 'yes' : 'no'}</td><td>{r.restarts ?? 0}</td></tr>;
          })}</tbody>
        </table>
      </div>
      {externals.length > 0 && <p class="muted">External endpoints: {externals.map((e) => `${e.address}:${e.port} (${e.ready ? 'ready' : 'not ready'})`).join(', ')}</p>}
      {listeners.length > 0 && (
        <section aria-label="listeners">
          <h2>Traffic</h2>
          <ul class="events">{listeners.map((l) => <li><code>{l.address}</code> {l.kind} · {l.backends[keyName]} ready backend(s) · {l.stats.total} requests, {l.stats.active} open, {l.stats.failedConnects} failed connects</li>)}</ul>
        </section>
      )}
      <Charts keyName={keyName} at={at} />
      <Logs service={keyName} />
      <Events service={keyName} />
    </>
  );
}

