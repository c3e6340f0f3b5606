/**
 * Semantic checks of Routes (backends, weights) and of published ports across the whole revision: a port has one
 * publisher, except that several Routes may share one HTTP listener when no two of their rules match the same
 * host + pathPrefix.
 */
import type { SourceLocation } from '../model/errors.ts';
import type { Manifest, PublishSpec, RouteManifest, RouteRule, ServiceManifest } from '../model/manifest.ts';
import { resourceKey } from '../model/keys.ts';
import type { PathSegment, RawDoc } from './yaml-source.ts';

/** Reports one issue at `path` of `doc` (at its key with target 'key'). */
export type RouteReport = (doc: RawDoc, path: PathSegment[], message: string, target?: 'key' | 'value') => void;

/** A typed manifest with the document it came from. */
export interface Located {
  doc: RawDoc;
  manifest: Manifest;
}

/**
 * Each backend names a Service of the Route's namespace that has a tcp port, at most once per rule; the weights of a
 * rule sum to more than 0. `declared` holds `Service\0ns/name` of every Service document (typed or not); `service`
 * finds a typed one by key.
 */
export function checkRoute(
  doc: RawDoc,
  m: RouteManifest,
  declared: { has(key: string): boolean },
  service: (key: string) => ServiceManifest | undefined,
  report: RouteReport,
): void {
  const ns = m.metadata.namespace;
  m.spec.rules.forEach((rule, i) => {
    const seen = new Map<string, number>();
    rule.backends.forEach((b, j) => {
      const path: PathSegment[] = ['spec', 'rules', i, 'backends', j, 'service'];
      const prev = seen.get(b.service);
      if (prev !== undefined) report(doc, path, `duplicate backend "${b.service}" (also spec.rules[${i}].backends[${prev}])`);
      else seen.set(b.service, j);
      if (!declared.has(`Service\0${resourceKey(ns, b.service)}`)) {
        report(doc, path, `no Service "${b.service}" in namespace "${ns}"`);
        return;
      }
      const target = service(resourceKey(ns, b.service));
      if (target && !target.spec.ports.some((p) => p.protocol === 'tcp')) {
        report(doc, path, `Service "${b.service}" has no tcp port to route to (add one to its spec.ports)`);
      }
    });
    if (rule.backends.reduce((sum, b) => sum + b.weight, 0) === 0) {
      report(doc, ['spec', 'rules', i, 'backends'], `weights of rule ${i} sum to 0: at least one backend needs weight > 0`);
    }
  });
}

interface Publisher {
  kind: 'Service' | 'Route';
  key: string;
  doc: RawDoc;
  /** Path of the `publish` mapping. */
  path: PathSegment[];
  publish: PublishSpec;
  rules: RouteRule[];
}

interface RuleSeen {
  pub: Publisher;
  index: number;
}

/** Reports a second publisher of a port (naming the first and where it is) and duplicate host + pathPrefix rules of Routes sharing a port. */
export function checkPublishedPorts(items: readonly Located[], report: RouteReport): void {
  const first = new Map<number, Publisher>();
  const rules = new Map<string, RuleSeen>();
  for (const pub of items.flatMap(publisherOf)) {
    const prev = first.get(pub.publish.port);
    if (!prev) first.set(pub.publish.port, pub);
    const conflict = prev && conflictWith(pub, prev);
    if (conflict) report(pub.doc, conflict.path, conflict.message);
    else checkRules(pub, rules, report);
  }
}

/** Why `pub` cannot share its port with `prev`, the port's first publisher; undefined when both are Routes on one host. */
function conflictWith(pub: Publisher, prev: Publisher): { path: PathSegment[]; message: string } | undefined {
  const { port } = pub.publish;
  if (pub.kind === 'Service' || prev.kind === 'Service') {
    return { path: [...pub.path, 'port'], message: `port ${port} is also published by ${prev.kind} ${prev.key} at ${where(prev.doc.loc.at([...prev.path, 'port']))}` };
  }
  if ((pub.publish.host ?? '') === (prev.publish.host ?? '')) return undefined;
  const host = (p: PublishSpec): string => p.host ?? "the operator's --proxy-host";
  const message = `Routes sharing port ${port} must listen on the same host: Route ${prev.key} at ${where(prev.doc.loc.at(prev.path))} listens on ${host(prev.publish)}, this one on ${host(pub.publish)}`;
  return { path: [...pub.path, 'host'], message };
}

function checkRules(pub: Publisher, seen: Map<string, RuleSeen>, report: RouteReport): void {
  pub.rules.forEach((rule, index) => {
    const id = `${pub.publish.port}\0${rule.host ?? ''}\0${rule.pathPrefix}`;
    const prev = seen.get(id);
    if (!prev) {
      seen.set(id, { pub, index });
      return;
    }
    const other = prev.pub === pub ? `spec.rules[${prev.index}]` : `spec.rules[${prev.index}] of Route ${prev.pub.key} at ${where(prev.pub.doc.loc.at(['spec', 'rules', prev.index]))}`;
    const host = rule.host === undefined ? 'any host' : `host ${rule.host}`;
    report(pub.doc, ['spec', 'rules', index], `duplicate rule on port ${pub.publish.port}: ${host} and pathPrefix ${rule.pathPrefix} are already routed by ${other}`);
  });
}

function publisherOf({ doc, manifest: m }: Located): Publisher[] {
  const key = resourceKey(m.metadata.namespace, m.metadata.name);
  if (m.kind === 'Route') return [{ kind: 'Route', key, doc, path: ['spec', 'publish'], publish: m.spec.publish, rules: m.spec.rules }];
  if (m.kind !== 'Service') return [];
  const publish = m.spec.loadBalancer?.publish;
  const out: Publisher[] = publish ? [{ kind: 'Service', key, doc, path: ['spec', 'loadBalancer', 'publish'], publish, rules: [] }] : [];
  // ports[].publish: the further proxy listeners of the service, one per container port
  m.spec.ports.forEach((p, i) => { if (p.publish) out.push({ kind: 'Service', key, doc, path: ['spec', 'ports', i, 'publish'], publish: p.publish, rules: [] }); });
  return out;
}

function where(loc: SourceLocation): string {
  return `${loc.file}:${loc.line}`;
}
