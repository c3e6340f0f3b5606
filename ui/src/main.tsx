/**
 * berth's dashboard: one page, hash-routed (#/ overview, #/service/<ns>/<name>, #/nodes, #/traffic, #/revisions),
 * live on GET /v1/status/watch; other reads follow the status stream (no timer of their own). Actions: "sync now"
 * and pausing or resuming a service's drift correction (the operator role), each recorded with who did it; a change
 * to what runs goes through git.
 */
import { render } from 'preact';
import { useEffect, useLayoutEffect, useMemo, useRef, useState } from 'preact/hooks';
import { refused, setToken, stream, token } from './api.ts';
import { Nodes } from './pages/nodes.tsx';
import { Overview } from './pages/overview.tsx';
import { Revisions } from './pages/revisions.tsx';
import { ServicePage } from './pages/service.tsx';
import { Traffic } from './pages/traffic.tsx';
import type { Status } from './types.ts';
import './style.css';

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
interface Live { status: Status | null; error: string | null; at: number; reviewsAt: number }

/** The status document, live, and when the review plans last changed (`event: changed`, topic reviews). */
function useStatus(): Live {
  const [state, setState] = useState<Live>({ status: null, error: null, at: 0, reviewsAt: 0 });
  useEffect(() => {
    const abort = new AbortController();
    void stream('/v1/status/watch', (type, data) => {
      if (type === 'status') setState((s) => ({ ...s, status: JSON.parse(data) as Status, error: null, at: Date.now() }));
      if (type === 'changed' && (JSON.parse(data) as { topic?: string }).topic === 'reviews') setState((s) => ({ ...s, reviewsAt: Date.now() }));
    }, abort.signal, (e) => setState((s) => ({ ...s, error: e.message })));
    return () => abort.abort();
  }, []);
  return state;
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
      <p class="hint">On the machine running berth: <code>berth token create --role viewer --name you</code> (or <code>operator</code> to sync and pause drift correction), or the local admin token in <code>&lt;state-dir&gt;/cli-token</code>. It stays in this tab only.</p>
    </main>
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

const PAGES: [string, string][] = [['#/', 'Services'], ['#/nodes', 'Nodes'], ['#/traffic', 'Traffic'], ['#/revisions', 'Revisions']];

function Dashboard() {
  const hash = useHash();
  const { status, error, at, reviewsAt } = useStatus();
  const main = useRef<HTMLElement>(null);
  const first = useRef(true);
  // A keyboard user who followed a link lands at the new page's start, as with a page load.
  useLayoutEffect(() => {
    if (first.current) { first.current = false; return; }
    main.current?.focus();
  }, [hash]);
  const page = useMemo(() => {
    if (!status) return <p class="muted">{error ? `Cannot read the status: ${error}` : 'Waiting for the first pass…'}</p>;
    if (hash.startsWith('#/service/')) return <ServicePage status={status} at={at} keyName={decodeURIComponent(hash.slice('#/service/'.length))} />;
    if (hash === '#/nodes') return <Nodes status={status} />;
    if (hash === '#/traffic') return <Traffic status={status} at={at} />;
    if (hash === '#/revisions') return <Revisions at={at} reviewsAt={reviewsAt} />;
    return <Overview status={status} />;
  }, [hash, status, error, at, reviewsAt]);
  const current = hash.startsWith('#/service/') ? '#/' : hash;
  return (
    <>
      <header>
        <a href="#/" class="brand">berth</a>
        <nav aria-label="pages">{PAGES.map(([href, label]) => <a href={href} aria-current={current === href ? 'page' : undefined}>{label}</a>)}</nav>
        <span class="muted">{status?.instance}</span>
        <button type="button" class="link" onClick={() => setToken(null)}>Sign out</button>
      </header>
      <main ref={main} tabIndex={-1}>{page}</main>
    </>
  );
}

render(<App />, document.getElementById('app')!);
