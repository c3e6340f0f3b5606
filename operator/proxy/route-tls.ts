/**
 * The TLS settings of one Route listener from the Routes that publish on it (pure): their certificates in Route order
 * (so the first Route's first certificate answers clients without SNI), one entry per cert/key pair with the union of
 * its hosts, and the redirect listener the first Route asking for one names. The manifests stage has already refused
 * mixed TLS and plain Routes on a port, two certificates for one host, and disagreeing redirects.
 */
import type { DesiredRoute } from '../model/state.ts';
import type { RouterCertificate, RouterTlsOptions } from './tls-listener.ts';

/** Undefined when none of `routes` has tls: the listener stays plain HTTP. */
export function routerTls(routes: readonly DesiredRoute[], defaultHost: string): RouterTlsOptions | undefined {
  const certificates: RouterCertificate[] = [];
  const byFiles = new Map<string, RouterCertificate>();
  let redirect: RouterTlsOptions['redirect'];
  for (const route of routes) {
    for (const t of route.spec.tls ?? []) {
      const id = `${t.cert}\0${t.key}`;
      const seen = byFiles.get(id);
      if (seen) {
        for (const h of t.hosts) if (!seen.hosts.includes(h)) seen.hosts.push(h);
        continue;
      }
      const c = { hosts: [...t.hosts], cert: t.cert, key: t.key };
      byFiles.set(id, c);
      certificates.push(c);
    }
    const r = route.spec.redirectToHttps;
    if (r && !redirect && route.spec.tls) redirect = { host: r.host ?? defaultHost, port: r.port };
  }
  if (certificates.length === 0) return undefined;
  return redirect ? { certificates, redirect } : { certificates };
}
