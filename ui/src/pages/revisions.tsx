/**
 * Revisions: the branch head's plan while it is not applied yet (or its errors), the applied revisions (GET
 * /v1/history) each with the plan it was applied with, and the review plans of pull requests and review branches: the
 * pull-request comment's markdown, rendered.
 */
import { useState } from 'preact/hooks';
import type { HeadPlan, ReviewPlan, Revision } from '../types.ts';
import { Markdown, short, time, useJson } from '../ui.tsx';

const took = (ms: number | null) => (ms === null ? '—' : ms < 60_000 ? `${Math.round(ms / 1000)} s` : `${Math.round(ms / 60_000)} min`);

function RecordedPlan({ revision }: { revision: string }) {
  const { data, error } = useJson<{ markdown: string; appliedAt: string | null }>(`/v1/plans/revision/${revision}`, 0);
  if (error) return <p class="muted">{error}</p>;
  if (!data) return <p class="muted">Reading the plan…</p>;
  return <Markdown text={data.markdown} label={`plan of ${short(revision)}`} />;
}

function RevisionRow({ r }: { r: Revision }) {
  const [open, setOpen] = useState(false);
  return (
    <>
      <tr data-revision={r.revision}>
        <td><code>{short(r.revision)}</code>{r.current && <strong> (in force)</strong>}</td>
        <td>{r.commit ? <>{r.commit.subject} <div class="muted">{r.commit.author} · {time(r.commit.committedAt)}</div></> : <span class="muted">not in the repository any more</span>}</td>
        <td>{r.applied ? r.result : <span class="h-degraded">rejected</span>}{r.message && <div class="message">{r.message}</div>}</td>
        <td>{took(r.durationMs)}</td>
        <td>{r.applied && <button type="button" aria-expanded={open} aria-controls={`plan-${r.revision}`} onClick={() => setOpen(!open)}>{open ? 'Hide plan' : 'Plan'}</button>}</td>
      </tr>
      {open && <tr id={`plan-${r.revision}`} class="plan-row"><td colSpan={5}><RecordedPlan revision={r.revision} /></td></tr>}
    </>
  );
}

export function Revisions({ at, reviewsAt }: { at: number; reviewsAt: number }) {
  const history = useJson<{ revisions: Revision[] }>('/v1/history?limit=30', at);
  const head = useJson<HeadPlan>('/v1/plans/head', at, 2000);
  const reviews = useJson<{ reviews: ReviewPlan[] }>('/v1/plans/reviews', `${at} ${reviewsAt}`);
  const h = head.data;
  return (
    <>
      <h1>Revisions</h1>
      <section aria-label="head plan">
        <h2>Branch head</h2>
        {head.error && <div class="error" role="alert">{head.error}</div>}
        {h && !h.revision && <p class="muted">No revision fetched yet.</p>}
        {h?.revision && h.applied && <p>The head <code>{short(h.revision)}</code> is the revision in force.</p>}
        {h?.revision && !h.applied && (
          <>
            <p>The head <code data-testid="head">{short(h.revision)}</code> is not applied{h.ok ? ' yet: what applying it does' : ': it is rejected'}.</p>
            {h.markdown && <Markdown text={h.markdown} label="head plan" />}
          </>
        )}
      </section>
      <section aria-label="revisions">
        <h2>Applied</h2>
        {history.error && <div class="error" role="alert">{history.error}</div>}
        {history.data && (
          <div class="scroll">
            <table>
              <thead><tr><th>Revision</th><th>Commit</th><th>Result</th><th>To ready</th><th><span class="visually-hidden">Plan</span></th></tr></thead>
              <tbody>{history.data.revisions.map((r) => <RevisionRow key={r.revision + r.applied} r={r} />)}</tbody>
            </table>
          </div>
        )}
      </section>
      <section aria-label="review plans">
        <h2>Review plans</h2>
        {reviews.data && !reviews.data.reviews.length && <p class="muted">No pull request or review branch planned (berth plans them with --github-repo or --review-branches).</p>}
        {reviews.data?.reviews.map((r) => (
          <details data-review={r.key}>
            <summary>{r.url ? <a href={r.url} rel="noreferrer">{r.title}</a> : r.title} <code>{short(r.revision)}</code> <span class={r.ok ? 'h-healthy' : 'h-degraded'}>{r.ok ? 'ok' : 'rejected'}</span> <span class="muted">{r.summary}</span></summary>
            <Markdown text={r.markdown} label={`plan of ${r.key}`} />
          </details>
        ))}
      </section>
    </>
  );
}
