/**
 * The dashboard's side of berth's API: the token (kept in this tab's sessionStorage only), JSON calls and
 * Server-Sent Events read through fetch (EventSource cannot send an Authorization header), each stream ended by an
 * AbortSignal. A 401 forgets the token (the page asks again).
 */
import { takeEvents } from '../../operator/util/sse.ts';

const KEY = 'berth.token';

/** The last token was refused by berth (the login form says so). */
export let refused = false;

export function token(): string | null {
  return sessionStorage.getItem(KEY);
}

export function setToken(t: string | null): void {
  if (t) refused = false;
  if (t) sessionStorage.setItem(KEY, t);
  else sessionStorage.removeItem(KEY);
  window.dispatchEvent(new Event('berth-token'));
}

export class ApiError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

function headers(): Record<string, string> {
  const t = token();
  return t ? { authorization: `Bearer ${t}` } : {};
}

async function fail(res: Response): Promise<never> {
  let message = `${res.status}`;
  try {
    message = ((await res.json()) as { error?: string }).error ?? message;
  } catch {
    // not JSON
  }
  if (res.status === 401) {
    refused = true;
    setToken(null);
  }
  throw new ApiError(res.status, message);
}

export async function getJson<T>(path: string, signal?: AbortSignal): Promise<T> {
  const res = await fetch(path, { headers: { ...headers(), accept: 'application/json' }, ...(signal ? { signal } : {}) });
  if (!res.ok) return fail(res);
  return (await res.json()) as T;
}

export async function post<T>(path: string, body?: unknown): Promise<T> {
  const res = await fetch(path, { method: 'POST', headers: { ...headers(), ...(body === undefined ? {} : { 'content-type': 'application/json' }) }, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
  if (!res.ok) return fail(res);
  return (await res.json()) as T;
}

/** Reads the SSE stream of `path`, calling `onEvent` per event, until `signal` aborts; reconnects after 1 s on a drop. */
export async function stream(path: string, onEvent: (type: string, data: string) => void, signal: AbortSignal, onError?: (e: Error) => void): Promise<void> {
  while (!signal.aborted) {
    try {
      const res = await fetch(path, { headers: { ...headers(), accept: 'text/event-stream' }, signal });
      if (!res.ok || !res.body) await fail(res);
      const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        const taken = takeEvents(buffer + value);
        buffer = taken.rest;
        for (const e of taken.events) onEvent(e.type, e.data);
      }
    } catch (err) {
      if (signal.aborted) return;
      onError?.(err as Error);
      if (err instanceof ApiError && (err.status === 401 || err.status === 403 || err.status === 400)) return;
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
}
