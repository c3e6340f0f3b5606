/**
 * berth's dashboard: one page, hash-routed (#/ overview, #/service/<ns>/<name>, #/nodes, #/traffic), live on
 * GET /v1/status/watch; a service's logs and events follow GET /v1/logs and /v1/events. Read-only but for "sync now"
 * (POST /v1/sync, the operator role): a change to what runs goes through git.
 */
import { render } from 'preact';
import { useEffect, useLayoutEffect, useMemo, useRef, useState } from 'preact/hooks';
import { ApiError, getJson, post, refused, setToken, stream, token } from './api.ts';
import './style.css';

type Health = string;
interface Condition { type: string; status: string; reason: string; message: string; lastTransitionTime: string }
interface Replica { replica: string; container: string; node?: string; health: Health; ready: boolean; message?: string; restarts?: number }
interface Autoscale { min: number; max: number; replicas: number; decisions?: { at: string; from: number; to: number; reason: string }[] }
interface Service { desired: number; running: number; ready: number; health: Health; image: string; digest?: string; message?: string; replicas: Replica[]; autoscale?: Autoscale }
interface NodeState { name: string; state?: string; ready?: boolean; message?: string; [k: string]: unknown }
interface JobEntry { phase: string; ready: number; desired: number; health: Health; message?: string }
interface CronEntry { schedule: string; next?: string; health: Health; message?: string; active: string[] }
interface Held { action: string; reason: string; revision: string }
interface Status {
  instance: string;
  source: { repo: string; branch: string; path: string };
  revision: { applied: string | null; latest: string | null };
  conditions: Condition[];
  services: Record<string, Service>;
  held: Record<string, Held>;
  lastError: { code: string; message: string; revision: string | null } | null;
  nodes?: NodeState[];
  jobs?: Record<string, JobEntry>;
  cronJobs?: Record<string, CronEntry>;
  logs?: { store: string; file: string; error: string };
}
interface Listener { address: string; kind: string; owners: string[]; protocol: string; backends: Record<string, number>; stats: { active: number; total: number; failedConnects: number }; error?: string }
interface Revision { revision: string; commit: { subject: string; author: string; committedAt: string } | null; applied: boolean; result: string; ready: boolean; message: string; durationMs: number | null; current: boolean }
interface Line { id: number; time: string; replica: string; stream: string; text: string }
interface Event { id: number; time: string; type: string; reason?: string; message: string; service?: string; namespace?: string }

const short = (rev: string | null | undefined) => (rev ? rev.slice(0, 7) : '—');

function useHash(): string {
  const [hash, setHash] = useState(location.hash || '#/');
  useEffect(() => {
    const on = () => setHash(location.hash || '#/');
    window.addEventListener('hashchange', on);
    return () => window.removeEventListener('hashchange', on);
  }, []);
  return hash;
}

/** The status document, live. */
function useStatus(): { status: Status | null; error: string | null; at: number } {
  const [state, setState] = useState<{ status: Status | null; error: string | null; at: number }>({ status: null, error: null, at: 0 });
  useEffect(() => {
    const abort = new AbortController();
    void stream('/v1/status/watch', (type, data) => {
      if (type === 'status') setState({ status: JSON.parse(data) as Status, error: null, at: Date.now() });
    }, abort.signal, (e) => setState((s) => ({ ...s, error: e.message })));
    return () => abort.abort();
  }, []);
  return state;
}

function Badge({ health }: { health: Health }) {
  return <span class={`badge h-${health.toLowerCase()}`}>{health}</span>;
}

function Login() {
  const [value, setValue] = useState('');
  return (
    <main class="login">
      <h1>berth</h1>
      <form onSubmit={(e) => { e.preventDefault(); if (value.trim()) setToken(value.trim()); }}>
        <label for="token">API token</label>
        <input id="token" type="password" autocomplete="off" value={value} onInput={(e) => setValue((e.target as HTMLInputElement).value)} />
        <button type="submit">Open</button>
      </form>
      {refused && <p class="error" role="alert">berth refused that token (unknown, expired or revoked; a token just created works within a second).</p>}
      <p class="hint">On the machine running berth: <code>berth token create --role viewer --name you</code> (or <code>operator</code> to sync), or the local admin token in <code>&lt;state-dir&gt;/cli-token</code>. It stays in this tab only.</p>
    </main>
  );
}

function SyncButton() {
  const [msg, setMsg] = useState('');
  const sync = async () => {
    setMsg('asking…');
    try {
      await post('/v1/sync');
      setMsg('pass asked for');
    } catch (e) {
      setMsg(e instanceof ApiError && e.status === 403 ? `refused: ${e.message}` : `failed: ${(e as Error).message}`);
    }
  };
  return <span class="sync"><button type="button" onClick={sync}>Sync now</button> <span role="status" class="muted">{msg}</span></span>;
}

function Conditions({ status }: { status: Status }) {
  return (
    <section class="conditions" aria-label="conditions">
      {status.conditions.map((c) => {
        const bad = (c.type === 'Ready' && c.status !== 'True') || ((c.type === 'Stalled' || c.type === 'Degraded') && c.status === 'True');
        return (
          <div class={`condition ${bad ? 'bad' : c.type === 'Reconciling' && c.status === 'True' ? 'busy' : 'ok'}`} data-condition={c.type}>
            <strong>{c.type}</strong> {c.status} <span class="muted">{c.reason}</span>
            <div class="message">{c.message}</div>
          </div>
        );
      })}
    </section>
  );
}

function Overview({ status }: { status: Status }) {
  const [ns, setNs] = useState('');
  const [health, setHealth] = useState('');
  const [text, setText] = useState('');
  const keys = Object.keys(status.services).sort();
  const namespaces = [...new Set(keys.map((k) => k.split('/')[0]!))].sort();
  const healths = [...new Set(Object.values(status.services).map((s) => s.health))].sort();
  const shown = keys.filter((k) => (!ns || k.startsWith(`${ns}/`)) && (!health || status.services[k]!.health === health) && (!text || k.includes(text) || status.services[k]!.image.includes(text)));
  return (
    <>
      <Conditions status={status} />
      <section class="revision" aria-label="revision">
        <span>applied <code data-testid="applied">{short(status.revision.applied)}</code></span>
        <span>latest <code data-testid="latest">{short(status.revision.latest)}</code></span>
        <span class="muted">{status.source.repo} · {status.source.branch} · {status.source.path}</span>
        <SyncButton />
      </section>
      {status.lastError && <section class="error" role="alert"><strong>{status.lastError.code}</strong> (revision {short(status.lastError.revision)})<pre>{status.lastError.message}</pre></section>}
      {status.logs && <section class="error" role="alert">log store failing: {status.logs.error}</section>}
      <section aria-label="services">
        <div class="filters">
          <label>Namespace <select value={ns} onChange={(e) => setNs((e.target as HTMLSelectElement).value)}><option value="">all</option>{namespaces.map((n) => <option value={n}>{n}</option>)}</select></label>
          <label>Health <select value={health} onChange={(e) => setHealth((e.target as HTMLSelectElement).value)}><option value="">all</option>{healths.map((h) => <option value={h}>{h}</option>)}</select></label>
          <label>Filter <input type="search" value={text} onInput={(e) => setText((e.target as HTMLInputElement).value)} placeholder="name or image" /></label>
          <span class="muted">{shown.length} of {keys.length} services</span>
        </div>
        <table class="services">
          <thead><tr><th>Service</th><th>Health</th><th>Ready</th><th>Image</th><th>Nodes</th></tr></thead>
          <tbody>
            {shown.map((k) => {
              const s = status.services[k]!;
              const nodes = [...new Set(s.replicas.map((r) => r.node ?? 'local'))].join(', ');
              return (
                <tr data-service={k}>
                  <td><a href={`#/service/${k}`}>{k}</a>{status.held[k] && <span class="muted"> · {status.held[k]!.action === 'rollback' ? 'rolled back' : 'paused'}</span>}</td>
                  <td><Badge health={s.health} />{s.message && <div class="message">{s.message}</div>}</td>
                  <td data-testid="ready">{s.ready}/{s.desired}{s.autoscale && <span class="muted"> ({s.autoscale.min}–{s.autoscale.max})</span>}</td>
                  <td><code>{s.image}</code>{s.digest && <div class="muted digest">{s.digest.slice(0, 19)}</div>}</td>
                  <td>{nodes || '—'}</td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </section>
      {(status.jobs || status.cronJobs) && (
        <section aria-label="jobs">
          <h2>Jobs</h2>
          <table>
            <thead><tr><th>Job</th><th>Phase</th><th>Completions</th><th>Next</th></tr></thead>
            <tbody>
              {Object.entries(status.jobs ?? {}).map(([k, j]) => <tr><td>{k}</td><td><Badge health={j.health} /> {j.phase}</td><td>{j.ready}/{j.desired}</td><td>—</td></tr>)}
              {Object.entries(status.cronJobs ?? {}).map(([k, c]) => <tr><td>{k} <span class="muted">{c.schedule}</span></td><td><Badge health={c.health} /> {c.active.length ? 'Running' : 'Idle'}</td><td>—</td><td>{c.next ?? '—'}</td></tr>)}
            </tbody>
          </table>
        </section>
      )}
    </>
  );
}

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
      <pre class="logs" data-testid="logs" ref={box} tabIndex={0} onScroll={(e) => { const el = e.currentTarget; atBottom.current = el.scrollHeight - el.scrollTop - el.clientHeight < 24; }}>{lines.map((l) => <div class={l.stream === 'stderr' ? 'stderr' : ''}><span class="muted">{l.time.slice(11, 23)} {l.replica}</span> {l.text}</div>)}</pre>
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
      <ul class="events">{events.map((e) => <li><span class="muted">{e.time.slice(0, 19).replace('T', ' ')}</span> <strong>{e.type}</strong>{e.reason && <span class="muted"> ({e.reason})</span>} {e.message}</li>)}</ul>
    </section>
  );
}

function ServicePage({ status, keyName }: { status: Status; keyName: string }) {
  const s = status.services[keyName];
  if (!s) return <p>No service {keyName} in revision {short(status.revision.applied)}. <a href="#/">Back</a></p>;
  const held = status.held[keyName];
  return (
    <>
      <p><a href="#/">← services</a></p>
      <h2>{keyName} <Badge health={s.health} /></h2>
      {s.message && <p class="message">{s.message}</p>}
      {held && <section class="error" role="alert">Update {held.action === 'rollback' ? 'rolled back' : 'paused'} at {short(held.revision)}: {held.reason}</section>}
      <p>{s.ready}/{s.desired} ready, {s.running} running · <code>{s.image}</code>{s.digest && <span class="muted"> {s.digest}</span>}</p>
      {s.autoscale && <p>Autoscale {s.autoscale.min}–{s.autoscale.max}, now {s.autoscale.replicas}{s.autoscale.decisions?.[0] && <span class="muted"> · last: {s.autoscale.decisions[0].from} → {s.autoscale.decisions[0].to} ({s.autoscale.decisions[0].reason})</span>}</p>}
      <table>
        <thead><tr><th>Replica</th><th>Container</th><th>Node</th><th>Health</th><th>Ready</th><th>Restarts</th></tr></thead>
        <tbody>{s.replicas.map((r) => <tr><td>{r.replica}</td><td><code>{r.container}</code></td><td>{r.node ?? 'local'}</td><td><Badge health={r.health} />{r.message && <div class="message">{r.message}</div>}</td><td>{r.ready ? 'yes' : 'no'}</td><td>{r.restarts ?? 0}</td></tr>)}</tbody>
      </table>
      <Logs service={keyName} />
      <Events service={keyName} />
    </>
  );
}

function Nodes({ status }: { status: Status }) {
  return (
    <section aria-label="nodes">
      <h2>Nodes</h2>
      {!status.nodes?.length ? <p class="muted">One engine (no Node manifests).</p> : (
        <table><thead><tr><th>Node</th><th>State</th><th>Details</th></tr></thead>
          <tbody>{status.nodes.map((n) => <tr><td>{n.name}</td><td>{String(n.state ?? (n.ready ? 'Ready' : 'NotReady'))}</td><td class="muted">{n.message ?? ''}</td></tr>)}</tbody></table>
      )}
    </section>
  );
}

/** The listeners (GET /v1/proxies), read again after each status change: no timer of its own. */
function Traffic({ status, at }: { status: Status; at: number }) {
  const [listeners, setListeners] = useState<Listener[] | null>(null);
  const [error, setError] = useState('');
  useEffect(() => {
    const abort = new AbortController();
    getJson<{ proxies: Listener[] }>('/v1/proxies', abort.signal).then((r) => { setListeners(r.proxies); setError(''); }, (e: Error) => { if (!abort.signal.aborted) setError(e.message); });
    return () => abort.abort();
  }, [at]);
  return (
    <section aria-label="traffic">
      <h2>Traffic</h2>
      {error && <div class="error" role="alert">{error}</div>}
      {listeners && !listeners.length && <p class="muted">No listener: no Service publishes a port and no Route is in revision {short(status.revision.applied)}.</p>}
      {listeners && listeners.length > 0 && (
        <table>
          <thead><tr><th>Listener</th><th>Kind</th><th>Published by</th><th>Ready backends</th><th>Requests</th></tr></thead>
          <tbody>{listeners.map((l) => (
            <tr data-listener={l.address}>
              <td><code>{l.address}</code> <span class="muted">{l.protocol}</span>{l.error && <div class="message">{l.error}</div>}</td>
              <td>{l.kind}</td>
              <td>{l.owners.join(', ')}</td>
              <td>{Object.entries(l.backends).map(([svc, n]) => <div>{svc}: <strong>{n}</strong></div>)}</td>
              <td>{l.stats.total} <span class="muted">({l.stats.active} open, {l.stats.failedConnects} failed connects)</span></td>
            </tr>
          ))}</tbody>
        </table>
      )}
    </section>
  );
}

/** The applied revisions (GET /v1/history), read again after each status change. */
function Revisions({ at }: { at: number }) {
  const [revs, setRevs] = useState<Revision[] | null>(null);
  const [error, setError] = useState('');
  useEffect(() => {
    const abort = new AbortController();
    getJson<{ revisions: Revision[] }>('/v1/history?limit=30', abort.signal).then((r) => { setRevs(r.revisions); setError(''); }, (e: Error) => { if (!abort.signal.aborted) setError(e.message); });
    return () => abort.abort();
  }, [at]);
  const took = (ms: number | null) => (ms === null ? '—' : ms < 60_000 ? `${Math.round(ms / 1000)} s` : `${Math.round(ms / 60_000)} min`);
  return (
    <section aria-label="revisions">
      <h2>Revisions</h2>
      {error && <div class="error" role="alert">{error}</div>}
      {revs && (
        <table>
          <thead><tr><th>Revision</th><th>Commit</th><th>Result</th><th>To ready</th></tr></thead>
          <tbody>{revs.map((r) => (
            <tr data-revision={r.revision}>
              <td><code>{short(r.revision)}</code>{r.current && <strong> (in force)</strong>}</td>
              <td>{r.commit ? <>{r.commit.subject} <div class="muted">{r.commit.author} · {r.commit.committedAt.slice(0, 19).replace('T', ' ')}</div></> : <span class="muted">not in the repository any more</span>}</td>
              <td>{r.applied ? r.result : <span class="h-degraded">rejected</span>}{r.message && <div class="message">{r.message}</div>}</td>
              <td>{took(r.durationMs)}</td>
            </tr>
          ))}</tbody>
        </table>
      )}
    </section>
  );
}

function App() {
  const [authed, setAuthed] = useState(token() !== null);
  useEffect(() => {
    const on = () => setAuthed(token() !== null);
    window.addEventListener('berth-token', on);
    return () => window.removeEventListener('berth-token', on);
  }, []);
  return authed ? <Dashboard /> : <Login />;
}

function Dashboard() {
  const hash = useHash();
  const { status, error, at } = useStatus();
  const page = useMemo(() => {
    if (!status) return <p class="muted">{error ? `Cannot read the status: ${error}` : 'Waiting for the first pass…'}</p>;
    if (hash.startsWith('#/service/')) return <ServicePage status={status} keyName={decodeURIComponent(hash.slice('#/service/'.length))} />;
    if (hash === '#/nodes') return <Nodes status={status} />;
    if (hash === '#/traffic') return <Traffic status={status} at={at} />;
    if (hash === '#/revisions') return <Revisions at={at} />;
    return <Overview status={status} />;
  }, [hash, status, error, at]);
  return (
    <>
      <header>
        <a href="#/" class="brand">berth</a>
        <nav><a href="#/">Services</a> <a href="#/nodes">Nodes</a> <a href="#/traffic">Traffic</a> <a href="#/revisions">Revisions</a></nav>
        <span class="muted">{status?.instance}</span>
        <button type="button" class="link" onClick={() => setToken(null)}>Sign out</button>
      </header>
      <main>{page}</main>
    </>
  );
}

render(<App />, document.getElementById('app')!);
