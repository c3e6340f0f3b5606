/**
 * What a Route listener needs for TLS termination: the TLS options of its server (SNI over a CertificateStore, TLS 1.2
 * and up) and the plain HTTP listener that answers every request with a 301 to the same host and path on the TLS
 * port. (X-Forwarded-Proto: https comes from the listener context's `tls`, set by the router.)
 *
 * HTTP/1.1 only (ALPN offers http/1.1): serving HTTP/2 clients would need a second forwarding path next to the
 * llhttp one (http-connection.ts), through node:http2's streams, not just another listener: their
 * raw headers carry :authority / :path pseudo-headers and usually no Host (the rules match on Host), responses may not
 * carry Connection headers, and HTTP/1.1 upgrades (WebSocket) do not exist there.
 */
import type http from 'node:http';
import type { TlsOptions } from 'node:tls';
import type { ConnectionGate } from '../server/conn-guard.ts';
import { HEADERS_TIMEOUT_MS, type HttpListenerContext } from './http-connection.ts';
import { closeServer, listen } from './proxy.ts';
import { createHttpServer, reply } from './proxy-http.ts';
import { normalizeHost } from './route-table.ts';
import { CertificateStore, certificateSource, MIN_TLS_VERSION, type RouterCertificate, type Warn } from './tls-certs.ts';

export type { RouterCertificate } from './tls-certs.ts';

/** TLS termination of a Route listener. */
export interface RouterTlsOptions {
  /** In order: the first one that loads also answers clients without SNI or with a name none covers. */
  certificates: RouterCertificate[];
  /** A plain HTTP listener answering 301 to https://<same host>:<TLS port><same path>. */
  redirect?: { host: string; port: number };
  /** How often certificate files are checked for changes; default 2 s. */
  reloadIntervalMs?: number;
}

/** Loads the certificates and starts watching them; rejects with BerthError E_CONFIG when none loads. */
export async function startCertificates(opts: RouterTlsOptions, log: { warn: Warn; info: Warn }): Promise<CertificateStore> {
  const store = new CertificateStore(opts.certificates.map((c) => ({ hosts: c.hosts, source: certificateSource(c, opts.reloadIntervalMs) })), log);
  await store.start();
  return store;
}

/** TLS options of the listener's TLS server; the default context follows the store's reloads. */
export function tlsServerOptions(store: CertificateStore): TlsOptions {
  return { ...store.fallback, minVersion: MIN_TLS_VERSION, SNICallback: store.sniCallback, handshakeTimeout: HEADERS_TIMEOUT_MS, ALPNProtocols: ['http/1.1'] };
}

/** A host that may go into a Location header as it is: a DNS name, an IPv4 address or a bracketed IPv6 address. */
const SAFE_HOST = /^(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*|\[[0-9a-f:.]+\])$/;

/** The https URL a plain request is sent to, or undefined when its Host or target cannot make one. */
export function redirectLocation(hostHeader: string | undefined, target: string | undefined, tlsPort: number): string | undefined {
  const host = normalizeHost(hostHeader);
  if (!host || !SAFE_HOST.test(host) || !target) return undefined;
  let path = target;
  if (!path.startsWith('/')) {
    // absolute-form (a client talking to a proxy): keep its path and query, the Host header names the site
    try {
      const u = new URL(path);
      path = `${u.pathname}${u.search}`;
    } catch {
      return undefined;
    }
  }
  return `https://${host}${tlsPort === 443 ? '' : `:${tlsPort}`}${path}`;
}

export interface RedirectListener {
  port: number;
  close(): Promise<void>;
}

/** Opens the HTTP -> HTTPS redirect listener (guarded by the router's gate); rejects with the listen error. */
export async function startRedirect(
  opts: { host: string; port: number; tlsPort: () => number; ctx: HttpListenerContext; idleTimeoutMs: number; gate?: ConnectionGate },
): Promise<RedirectListener> {
  const server: http.Server = createHttpServer(opts.ctx, (req, res) => {
    req.resume();
    // two Host headers are a 400 (RFC 9112 §3.2): which one a cache or the client believes is anyone's guess
    const hosts = req.headersDistinct.host ?? [];
    const location = hosts.length === 1 ? redirectLocation(hosts[0], req.url, opts.tlsPort()) : undefined;
    if (!location) {
      reply(res, 400, 'E_BAD_REQUEST', 'a request needs one Host header and a path to be redirected to https', true);
      return;
    }
    res.writeHead(301, { location, 'content-length': 0 }).end();
  }, opts.idleTimeoutMs);
  opts.gate?.protect(server);
  await listen(server, opts.host, opts.port);
  const address = server.address();
  return { port: typeof address === 'object' && address ? address.port : opts.port, close: () => closeServer(server) };
}
