/** Webhook receivers of alerts: URL parsing without leaking secrets, the Slack-compatible payload, one POST with a timeout. */
import { BerthError } from '../model/errors.ts';

/** One receiver: the URL to POST to (userinfo moved into an Authorization header) and its host, the only part ever logged. */
export interface Receiver {
  url: string;
  host: string;
  headers: Record<string, string>;
}

/** The JSON body POSTed for one alert: Slack's top-level `text` plus structured fields. */
export interface AlertPayload {
  text: string;
  instance: string;
  kind: string;
  severity: string;
  key: string;
  title: string;
  fields: Record<string, string>;
  /** ISO time the alert was sent. */
  time: string;
}

/** The outcome of one POST. */
export type DeliveryResult = { ok: true } | { ok: false; reason: string };

/**
 * Parses receiver `raw` (the `index`-th configured URL). Throws BerthError E_CONFIG naming the index only, never the URL,
 * which may hold a token. `user:pass@` becomes a Basic Authorization header (fetch refuses URLs with credentials).
 */
export function parseReceiver(raw: string, index: number): Receiver {
  let url: URL;
  try {
    url = new URL(raw.trim());
  } catch {
    throw new BerthError('E_CONFIG', `alert URL #${index + 1} is not a valid URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new BerthError('E_CONFIG', `alert URL #${index + 1} must be http or https, got ${url.protocol.replace(/:$/, '')}`);
  }
  const headers: Record<string, string> = {};
  if (url.username || url.password) {
    const credentials = `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`;
    headers.authorization = `Basic ${Buffer.from(credentials, 'utf8').toString('base64')}`;
    url.username = '';
    url.password = '';
  }
  return { url: url.toString(), host: url.host, headers };
}

/** The Slack line of an alert: `[berth <instance>] <title>: <text>`. */
export function alertText(instance: string, a: { title: string; text: string }): string {
  return `[berth ${instance}] ${a.title}: ${a.text}`;
}

/** The body of one alert sent at `time` (ms since the epoch). */
export function alertPayload(
  instance: string, a: { kind: string; severity: string; key: string; title: string; text: string; fields?: Record<string, string> }, time: number,
): AlertPayload {
  return {
    text: alertText(instance, a), instance, kind: a.kind, severity: a.severity, key: a.key, title: a.title,
    fields: { ...(a.fields ?? {}) }, time: new Date(time).toISOString(),
  };
}

/** POSTs `body` to `r`; any answer but 2xx, a connection failure or the timeout is a failed delivery (never thrown). */
export async function deliver(r: Receiver, body: string, timeoutMs: number): Promise<DeliveryResult> {
  const signal = AbortSignal.timeout(timeoutMs);
  try {
    const res = await fetch(r.url, {
      method: 'POST', body, signal, redirect: 'manual',
      headers: { 'content-type': 'application/json', ...r.headers },
    });
    await res.arrayBuffer().catch(() => undefined); // release the connection
    return res.ok ? { ok: true } : { ok: false, reason: `HTTP ${res.status}` };
  } catch (err) {
    return { ok: false, reason: failureReason(err, timeoutMs) };
  }
}

/** A reason built from error names and codes only: fetch messages may echo the URL. */
function failureReason(err: unknown, timeoutMs: number): string {
  const e = err as { name?: unknown; cause?: { code?: unknown; name?: unknown } };
  if (e.name === 'TimeoutError' || e.name === 'AbortError') return `timeout after ${timeoutMs} ms`;
  const code = e.cause?.code ?? e.cause?.name ?? e.name;
  return typeof code === 'string' ? code : 'unknown error';
}
