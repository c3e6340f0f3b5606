/**
 * The headers a proxied request carries upstream, as nginx's usual proxy config sets them: hop-by-hop headers dropped,
 * `X-Forwarded-For` appended (`$proxy_add_x_forwarded_for`), `X-Forwarded-Proto` and `X-Forwarded-Host` replaced with
 * what this listener saw (a client must not choose them), `Via` appended. Shared by request forwarding and upgrades.
 */
/** What the header rewriting reads of a request (a parsed head, or node's IncomingMessage). */
export interface ForwardedRequest {
  rawHeaders: readonly string[];
  headers: { connection?: string; host?: string; upgrade?: string };
  socket: { remoteAddress?: string };
}

/** Headers that describe one hop, never forwarded (RFC 9110 §7.6.1). */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer', 'upgrade', 'proxy-authorization', 'proxy-authenticate']);

/** Headers the proxy sets itself on a request: a client's values are replaced, not passed on. */
const REPLACED = new Set(['x-forwarded-proto', 'x-forwarded-host']);

/** The Via entry of this proxy (RFC 9110 §7.6.3: protocol version and a pseudonym, not the host name). */
export const VIA = '1.1 berth';

/** What `endToEnd` collects instead of copying: the values this proxy appends to. */
export interface Appended {
  via: string[];
  /** Requests only: X-Forwarded-For values collected (and the headers the proxy replaces dropped). */
  xff?: string[];
}

/**
 * The request headers to send upstream (raw name/value list): end-to-end ones plus X-Forwarded-For/-Proto/-Host and
 * Via. `tls`: the listener terminates TLS (X-Forwarded-Proto https).
 */
export function upstreamRequestHeaders(req: ForwardedRequest, tls: boolean): string[] {
  const prior = { via: [] as string[], xff: [] as string[] };
  const out = endToEnd(req.rawHeaders, req.headers.connection, prior);
  out.push('x-forwarded-for', appended(prior.xff, req.socket.remoteAddress ?? ''));
  out.push('x-forwarded-proto', tls ? 'https' : 'http');
  if (req.headers.host !== undefined) out.push('x-forwarded-host', req.headers.host);
  out.push('via', appended(prior.via, VIA));
  return out;
}

/**
 * The request headers of an upgrade (raw name/value list): those of upstreamRequestHeaders plus Upgrade and a
 * Connection naming it, and the headers the client's Connection names for the new protocol (h2c's HTTP2-Settings),
 * which the upstream needs to switch.
 */
export function upgradeRequestHeaders(req: ForwardedRequest, tls: boolean): string[] {
  const out = upstreamRequestHeaders(req, tls);
  const tokens = ['upgrade'];
  const named = new Set((req.headers.connection ?? '').split(',').map((t) => t.trim().toLowerCase()));
  const raw = req.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!.toLowerCase();
    if (!named.has(name) || HOP_BY_HOP.has(name) || REPLACED.has(name) || name === 'x-forwarded-for' || name === 'via' || name === 'host') continue;
    out.push(raw[i]!, raw[i + 1]!);
    if (!tokens.includes(name)) tokens.push(name);
  }
  out.push('connection', tokens.join(', '), 'upgrade', req.headers.upgrade ?? '');
  return out;
}

/** The response headers to send to the client: end-to-end ones, with this proxy appended to Via. */
export function clientResponseHeaders(raw: readonly string[], connection: string | undefined): string[] {
  const prior: Appended = { via: [] };
  const out = endToEnd(raw, connection, prior);
  out.push('via', appended(prior.via, VIA));
  return out;
}

/**
 * Drops hop-by-hop headers from a raw name/value list, including those the Connection header names. With `collect`,
 * Via (and, given `collect.xff`, X-Forwarded-For) values are moved there instead of being copied.
 */
export function endToEnd(raw: readonly string[], connection: string | undefined, collect?: Appended): string[] {
  const named = connection === undefined ? undefined : new Set(connection.split(',').map((s) => s.trim().toLowerCase()));
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!.toLowerCase();
    if (HOP_BY_HOP.has(name) || named?.has(name)) continue;
    if (collect) {
      if (name === 'via') {
        collect.via.push(raw[i + 1]!);
        continue;
      }
      if (collect.xff && name === 'x-forwarded-for') {
        collect.xff.push(raw[i + 1]!);
        continue;
      }
      if (collect.xff && REPLACED.has(name)) continue;
    }
    out.push(raw[i]!, raw[i + 1]!);
  }
  return out;
}

function appended(prior: readonly string[], value: string): string {
  return prior.length ? `${prior.join(', ')}, ${value}` : value;
}
