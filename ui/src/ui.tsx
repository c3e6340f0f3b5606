/** Small pieces every page uses: badges, revision ids, sizes, a JSON read that follows the status, rendered markdown. */
import { useEffect, useRef, useState } from 'preact/hooks';
import DOMPurify from 'dompurify';
import { marked } from 'marked';
import { getJson } from './api.ts';
import type { Health } from './types.ts';

export const short = (rev: string | null | undefined) => (rev ? rev.slice(0, 7) : '—');

export const time = (iso: string | undefined) => (iso ? iso.slice(0, 19).replace('T', ' ') : '—');

export function bytes(n: number): string {
  if (!Number.isFinite(n)) return '∞';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return `${n >= 10 || i === 0 ? Math.round(n) : n.toFixed(1)} ${units[i]}`;
}

export function cores(n: number): string {
  return Number.isFinite(n) ? `${Math.round(n * 100) / 100}` : '∞';
}

export function Badge({ health }: { health: Health }) {
  return <span class={`badge h-${health.toLowerCase()}`}>{health}</span>;
}

/**
 * GET `path` again each time `at` (the status stream's last change, or another version) moves, at most once per
 * `minMs` (a change within it is read when it has passed): the page follows what berth does without a timer of its
 * own. Null while the first answer is on its way.
 */
export function useJson<T>(path: string | null, at: number | string, minMs = 0): { data: T | null; error: string } {
  const [state, setState] = useState<{ data: T | null; error: string; path: string | null }>({ data: null, error: '', path: null });
  const last = useRef(0);
  useEffect(() => {
    if (!path) return;
    const abort = new AbortController();
    const read = () => {
      last.current = Date.now();
      getJson<T>(path, abort.signal).then(
        (data) => setState({ data, error: '', path }),
        (e: Error) => { if (!abort.signal.aborted) setState((s) => ({ data: s.path === path ? s.data : null, error: e.message, path })); },
      );
    };
    // Within minMs of the last read: read once that has passed (a change is never skipped, only put off).
    const wait = state.path === path ? minMs - (Date.now() - last.current) : 0;
    const timer = wait > 0 ? setTimeout(read, wait) : (read(), undefined);
    return () => { clearTimeout(timer); abort.abort(); };
  }, [path, at]);
  return state.path === path ? { data: state.data, error: state.error } : { data: null, error: '' };
}

/**
 * A plan as the pull-request comment shows it: berth's markdown rendered by marked, then sanitized by DOMPurify (the
 * markdown quotes names, messages and commit text from the repository; no script or handler survives).
 */
export function Markdown({ text, label }: { text: string; label?: string }) {
  const html = DOMPurify.sanitize(marked.parse(text, { async: false, gfm: true }), { USE_PROFILES: { html: true } });
  return <div class="markdown" aria-label={label} dangerouslySetInnerHTML={{ __html: html }} />;
}
