/** The overview: conditions, applied vs latest revision, drift-correction pauses, every service filtered, the Jobs. */
import { useState } from 'preact/hooks';
import { ApiError, post } from '../api.ts';
import type { Status } from '../types.ts';
import { Badge, short, time, useJson } from '../ui.tsx';

export function SyncButton() {
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

export function Conditions({ status }: { status: Status }) {
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

/** The banner of every service whose drift correction is paused: the running state may differ from git, and says so. */
export function PausedBanner({ status, only }: { status: Status; only?: string }) {
  const paused = Object.entries(status.driftPaused ?? {}).filter(([k]) => !only || k === only);
  if (!paused.length) return null;
  return (
    <section class="banner" role="alert" aria-label="drift correction paused">
      {paused.map(([k, p]) => (
        <div data-paused={k}>
          Drift correction of <a href={`#/service/${k}`}>{k}</a> paused by <strong>{p.by}</strong> since {time(p.at)}{p.reason ? `: ${p.reason}` : ''}.
          {' '}What runs may differ from git until it is resumed.
        </div>
      ))}
    </section>
  );
}

/** A revision's commit message and author (GET /v1/commits/<sha>: kept by berth, commits never change). */
function Commit({ sha }: { sha: string | null }) {
  const { data } = useJson<{ subject: string; author: string; committedAt: string }>(sha ? `/v1/commits/${sha}` : null, 0);
  return data ? <span data-testid="commit">{data.subject} <span class="muted">· {data.author} · {time(data.committedAt)}</span></span> : null;
}

export function Overview({ status }: { status: Status }) {
  const [ns, setNs] = useState('');
  const [health, setHealth] = useState('');
  const [text, setText] = useState('');
  const keys = Object.keys(status.services).sort();
  const namespaces = [...new Set(keys.map((k) => k.split('/')[0]!))].sort();
  const healths = [...new Set(Object.values(status.services).map((s) => s.health))].sort();
  const shown = keys.filter((k) => (!ns || k.startsWith(`${ns}/`)) && (!health || status.services[k]!.health === health) && (!text || k.includes(text) || status.services[k]!.image.includes(text)));
  return (
    <>
      <h1 class="visually-hidden">Services</h1>
      <Conditions status={status} />
      <section class="revision" aria-label="revision">
        <span>applied <code data-testid="applied">{short(status.revision.applied)}</code> <Commit sha={status.revision.applied} /></span>
        {status.revision.latest !== status.revision.applied && <span>latest <code data-testid="latest">{short(status.revision.latest)}</code> <Commit sha={status.revision.latest} /></span>}
        <span class="muted">{status.source.repo} · {status.source.branch} · {status.source.path}</span>
        <SyncButton />
      </section>
      <PausedBanner status={status} />
      {status.lastError && <section class="error" role="alert"><strong>{status.lastError.code}</strong> (revision {short(status.lastError.revision)})<pre>{status.lastError.message}</pre></section>}
      {status.logs && <section class="error" role="alert">log store failing: {status.logs.error}</section>}
      <section aria-label="services">
        <div class="filters">
          <label>Namespace <select value={ns} onChange={(e) => setNs((e.target as HTMLSelectElement).value)}><option value="">all</option>{namespaces.map((n) => <option value={n}>{n}</option>)}</select></label>
          <label>Health <select value={health} onChange={(e) => setHealth((e.target as HTMLSelectElement).value)}><option value="">all</option>{healths.map((h) => <option value={h}>{h}</option>)}</select></label>
          <label>Filter <input type="search" value={text} onInput={(e) => setText((e.target as HTMLInputElement).value)} placeholder="name or image" /></label>
          <span class="muted">{shown.length} of {keys.length} services</span>
        </div>
        <div class="scroll">
          <table class="services">
            <thead><tr><th>Service</th><th>Health</th><th>Ready</th><th>Image</th><th>Nodes</th></tr></thead>
            <tbody>
              {shown.map((k) => {
                const s = status.services[k]!;
                const nodes = [...new Set(s.replicas.map((r) => r.node ?? 'local'))].join(', ');
                const last = s.autoscale?.decisions?.[0];
                return (
                  <tr data-service={k}>
                    <td><a href={`#/service/${k}`}>{k}</a>{status.held[k] && <span class="muted"> · {status.held[k]!.action === 'rollback' ? 'rolled back' : 'paused'}</span>}{status.driftPaused?.[k] && <span class="muted"> · drift paused</span>}</td>
                    <td><Badge health={s.health} />{s.message && <div class="message">{s.message}</div>}</td>
                    <td data-testid="ready">{s.ready}/{s.desired}{s.autoscale && <span class="muted"> ({s.autoscale.min}–{s.autoscale.max}{last ? `, last ${last.from}→${last.to}` : ''})</span>}</td>
                    <td><code>{s.image}</code>{s.digest && <div class="muted digest">{s.digest.slice(0, 19)}</div>}</td>
                    <td>{nodes || '—'}</td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      </section>
      {(status.jobs || status.cronJobs) && (
        <section aria-label="jobs">
          <h2>Jobs</h2>
          <div class="scroll">
            <table>
              <thead><tr><th>Job</th><th>Phase</th><th>Completions</th><th>Next</th></tr></thead>
              <tbody>
                {Object.entries(status.jobs ?? {}).map(([k, j]) => <tr><td>{k}</td><td><Badge health={j.health} /> {j.phase}{j.message && <div class="message">{j.message}</div>}</td><td>{j.ready}/{j.desired}</td><td>—</td></tr>)}
                {Object.entries(status.cronJobs ?? {}).map(([k, c]) => <tr><td>{k} <span class="muted">{c.schedule}</span></td><td><Badge health={c.health} /> {c.active.length ? 'Running' : 'Idle'}</td><td>—</td><td>{c.next ?? '—'}</td></tr>)}
              </tbody>
            </table>
          </div>
        </section>
      )}
    </>
  );
}
