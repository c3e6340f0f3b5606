/** Semantic checks of a Service's spec.loadBalancer that the JSON Schema cannot express. */
import type { ServiceManifest } from '../model/manifest.ts';
import type { PathSegment, RawDoc } from './yaml-source.ts';
import { hashKeyNeedsHttp } from './load-balancer.ts';

/** Reports one issue at `path` of `doc` (at its key with target 'key'). */
export type LbReport = (doc: RawDoc, path: PathSegment[], message: string, target?: 'key' | 'value') => void;

const PATH: PathSegment[] = ['spec', 'loadBalancer'];

/** A target among the service's tcp ports, and hashKey / boundedLoad / protocol consistent with the algorithm. */
export function checkLoadBalancer(doc: RawDoc, m: ServiceManifest, report: LbReport): void {
  const lb = m.spec.loadBalancer;
  if (!lb) return;
  const tcp = m.spec.ports.filter((p) => p.protocol === 'tcp').map((p) => p.port);
  if (tcp.length === 0) {
    const declared = m.spec.ports.length === 0 ? 'it declares none' : `it declares only ${m.spec.ports.map((p) => `${p.port}/${p.protocol}`).join(', ')}`;
    report(doc, PATH, `a load balancer needs a tcp port in spec.ports (${declared})`, 'key');
  } else if (!tcp.includes(lb.targetPort)) {
    report(doc, [...PATH, 'targetPort'], `port ${lb.targetPort} is not one of the service's tcp ports (${tcp.join(', ')})`);
  }
  const hashing = lb.algorithm === 'consistent-hash';
  if (lb.hashKey !== undefined && !hashing) report(doc, [...PATH, 'hashKey'], `hashKey needs algorithm consistent-hash (algorithm is ${lb.algorithm})`);
  if (hashing && lb.hashKey === undefined) report(doc, [...PATH, 'algorithm'], 'consistent-hash needs a hashKey: client-ip, path, header:<name> or cookie:<name>');
  if (lb.boundedLoad !== undefined && !hashing) report(doc, [...PATH, 'boundedLoad'], `boundedLoad needs algorithm consistent-hash (algorithm is ${lb.algorithm})`);
  if (lb.protocol === 'tcp' && hashKeyNeedsHttp(lb.hashKey)) {
    report(doc, [...PATH, 'protocol'], `hashKey ${lb.hashKey} needs protocol http: a tcp listener can only hash on client-ip`);
  }
}
