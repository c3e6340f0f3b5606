/**
 * Checks of TLS Routes. A certificate's hosts must be served by the Route's rules (a certificate for a name no rule
 * routes is a typo, or someone else's name). A port is HTTPS or plain HTTP, never both: a client cannot tell which
 * one it gets. One host on one port gets one certificate, whichever Route names it. The redirect listener is a
 * published port like any other. And the certificate and key files are files of the operator host: berth reads them,
 * so they must lie under an --allow-host-path prefix, the rule Volumes follow for host paths, or a manifest could make
 * berth read (and serve, as a "certificate") any file it can open.
 */
import type { ManifestIssue, SourceLocation } from '../../../model/errors.ts';
import type { RouteManifest } from '../../../model/manifest.ts';
import { resourceKey } from '../../../model/keys.ts';
import { formatPath } from '../../path.ts';
import type { Entry } from '../../semantic.ts';
import type { PathSegment, RawDoc } from '../../yaml-source.ts';
import type { CheckContext, Report, Typed } from '../types.ts';
import { hostPathProblem, normalizeAllowedPath } from '../volume/checks.ts';

/** True when rule host `rule` (absent = any host) serves some request for certificate host `host`. */
export function ruleCovers(rule: string | undefined, host: string): boolean {
  if (rule === undefined || rule === host) return true;
  const sub = (wild: string, name: string): boolean => name.endsWith(wild.slice(1)) && name.length > wild.length - 1;
  if (rule.startsWith('*.') && sub(rule, host)) return true; // *.example.com routes shop.example.com and *.a.example.com
  return host.startsWith('*.') && sub(host, rule); // a wildcard certificate covering an exact rule host
}

/** Per Route: every tls host covered by a rule host; redirectToHttps only with tls, on a port of its own. */
export function checkRouteTls(doc: RawDoc, m: RouteManifest, report: Report): void {
  const { tls, redirectToHttps, rules } = m.spec;
  tls?.forEach((t, i) => t.hosts.forEach((host, j) => {
    if (rules.some((r) => ruleCovers(r.host, host))) return;
    const hosts = rules.flatMap((r) => (r.host ? [r.host] : []));
    report(doc, ['spec', 'tls', i, 'hosts', j], `tls host ${host} is not routed by this Route (its rule hosts: ${hosts.join(', ')}); add a rule for it or remove it`);
  }));
  if (redirectToHttps && !tls) report(doc, ['spec', 'redirectToHttps'], 'redirectToHttps needs spec.tls: it redirects to the HTTPS listener of spec.publish', 'key');
  if (redirectToHttps && redirectToHttps.port === m.spec.publish.port) {
    report(doc, ['spec', 'redirectToHttps', 'port'], `redirectToHttps.port ${redirectToHttps.port} is spec.publish.port: the redirect needs a port of its own`);
  }
}

interface Seen {
  key: string;
  doc: RawDoc;
  path: PathSegment[];
}

interface CertSeen extends Seen {
  files: string;
}

/** Across Routes: one protocol per port, one certificate per host and port, one redirect per port and redirect port. */
export function checkTlsPorts(typed: readonly Typed<RouteManifest>[], ctx: CheckContext, report: Report): void {
  const protocol = new Map<number, Seen & { tls: boolean }>();
  const certs = new Map<string, CertSeen>();
  const redirects = new Map<number, Seen & { port: number }>();
  const redirectOf = new Map<number, Seen & { port: number; host: string | undefined }>();
  const published = publishedPorts(typed, ctx);
  for (const { doc, manifest: m } of typed) {
    const key = resourceKey(m.metadata.namespace, m.metadata.name);
    const { port } = m.spec.publish;
    const tls = m.spec.tls !== undefined;
    const here: PathSegment[] = tls ? ['spec', 'tls'] : ['spec', 'publish'];
    const first = protocol.get(port);
    if (!first) protocol.set(port, { key, doc, path: here, tls });
    else if (first.tls !== tls) {
      const [withTls, plain] = tls ? [`this Route ${key}`, `Route ${first.key} at ${where(first.doc, first.path)}`] : [`Route ${first.key} at ${where(first.doc, first.path)}`, `this Route ${key}`];
      report(doc, here, `port ${port} mixes HTTPS and plain HTTP: ${withTls} has tls, ${plain} has none; a port serves one of them (give both Routes tls, or publish them on different ports)`, 'key');
    }
    m.spec.tls?.forEach((t, i) => t.hosts.forEach((host, j) => {
      const path: PathSegment[] = ['spec', 'tls', i, 'hosts', j];
      const files = `cert ${t.cert}, key ${t.key}`;
      const id = `${port}\0${host}`;
      const prev = certs.get(id);
      if (!prev) certs.set(id, { key, doc, path, files });
      else if (prev.files !== files) {
        const other = prev.doc === doc ? formatPath(prev.path) : `Route ${prev.key} at ${where(prev.doc, prev.path)}`;
        report(doc, path, `host ${host} on port ${port} gets two certificates: ${files} here, ${prev.files} from ${other}; one host gets one certificate`);
      }
    }));
    const r = m.spec.redirectToHttps;
    if (!r) continue;
    const rpath: PathSegment[] = ['spec', 'redirectToHttps', 'port'];
    const owner = published.get(r.port);
    if (owner && r.port !== port) report(doc, rpath, `redirectToHttps.port ${r.port} is also published by ${owner.key} at ${where(owner.doc, owner.path)}`);
    const prev = redirects.get(r.port);
    if (!prev) redirects.set(r.port, { key, doc, path: rpath, port });
    else if (prev.port !== port) {
      report(doc, rpath, `redirectToHttps.port ${r.port} already redirects to port ${prev.port} for Route ${prev.key} at ${where(prev.doc, prev.path)}; one redirect port serves one HTTPS port`);
    }
    const mine = redirectOf.get(port);
    if (!mine) redirectOf.set(port, { key, doc, path: rpath, port: r.port, host: r.host });
    else if (mine.port !== r.port || mine.host !== r.host) {
      const at = (p: number, h: string | undefined): string => `${h ?? 'the default host'} port ${p}`;
      report(doc, rpath, `Routes sharing port ${port} redirect from different listeners: ${at(r.port, r.host)} here, ${at(mine.port, mine.host)} for Route ${mine.key} at ${where(mine.doc, mine.path)}; one HTTPS port has one redirect listener`);
    }
  }
}

/** The first publisher of each port: Services' loadBalancer.publish and ports[].publish, and Routes' publish. */
function publishedPorts(typed: readonly Typed<RouteManifest>[], ctx: CheckContext): Map<number, Seen> {
  const out = new Map<number, Seen>();
  for (const [key, { doc, m }] of ctx.services) {
    const p = m.spec.loadBalancer?.publish;
    if (p && !out.has(p.port)) out.set(p.port, { key: `Service ${key}`, doc, path: ['spec', 'loadBalancer', 'publish', 'port'] });
    m.spec.ports.forEach((q, i) => { if (q.publish && !out.has(q.publish.port)) out.set(q.publish.port, { key: `Service ${key}`, doc, path: ['spec', 'ports', i, 'publish', 'port'] }); });
  }
  for (const { doc, manifest: m } of typed) {
    if (!out.has(m.spec.publish.port)) out.set(m.spec.publish.port, { key: `Route ${resourceKey(m.metadata.namespace, m.metadata.name)}`, doc, path: ['spec', 'publish', 'port'] });
  }
  return out;
}

/**
 * E_SEMANTIC issues at spec.tls[i].cert / .key of each typed Route whose file is not under an allowed prefix (the
 * operator's --allow-host-path). Throws BerthError E_CONFIG when an allowed prefix itself is invalid.
 */
export function tlsFileIssues(entries: readonly Entry[], allowHostPaths: readonly string[]): ManifestIssue[] {
  const allowed = allowHostPaths.map(normalizeAllowedPath);
  const issues: ManifestIssue[] = [];
  for (const { doc, manifest } of entries) {
    if (manifest?.kind !== 'Route') continue;
    manifest.spec.tls?.forEach((t, i) => {
      for (const field of ['cert', 'key'] as const) {
        const problem = hostPathProblem(t[field], allowed);
        if (!problem) continue;
        const path = ['spec', 'tls', i, field];
        issues.push({ ...doc.loc.at(path), code: 'E_SEMANTIC', field: formatPath(path), message: `reads the host file ${JSON.stringify(t[field])}: ${problem}` });
      }
    });
  }
  return issues;
}

function where(doc: RawDoc, path: PathSegment[]): string {
  const loc: SourceLocation = doc.loc.at(path);
  return `${loc.file}:${loc.line}`;
}
