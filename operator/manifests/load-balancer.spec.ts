import { describe, expect, it } from 'vitest';
import type { PortSpec } from '../model/manifest.ts';
import { firstTcpPort, hashKeyNeedsHttp, toLoadBalancer } from './load-balancer.ts';
import { toRouteSpec } from './kinds/route/defaults.ts';

const ports: PortSpec[] = [
  { port: 53, protocol: 'udp' },
  { port: 8080, protocol: 'tcp' },
  { port: 8443, protocol: 'tcp' },
];

describe('toLoadBalancer', () => {
  it('defaults to round-robin over tcp to the first tcp port with weight 1', () => {
    expect(toLoadBalancer({}, ports)).toEqual({ algorithm: 'round-robin', protocol: 'tcp', targetPort: 8080, weight: 1 });
  });

  it('defaults the protocol to http for hash keys read from the request, tcp for client-ip', () => {
    for (const hashKey of ['header:X-User', 'cookie:sid', 'path']) {
      expect(toLoadBalancer({ algorithm: 'consistent-hash', hashKey }, ports).protocol).toBe('http');
    }
    expect(toLoadBalancer({ algorithm: 'consistent-hash', hashKey: 'client-ip' }, ports).protocol).toBe('tcp');
  });

  it('keeps what the manifest says', () => {
    const lb = toLoadBalancer({ algorithm: 'consistent-hash', hashKey: 'path', protocol: 'tcp', boundedLoad: 1.25, targetPort: 8443, weight: 3, publish: { port: 18080, host: '127.0.0.1' } }, ports);
    expect(lb).toEqual({ algorithm: 'consistent-hash', hashKey: 'path', protocol: 'tcp', boundedLoad: 1.25, targetPort: 8443, weight: 3, publish: { port: 18080, host: '127.0.0.1' } });
  });

  it('uses targetPort 0 (reported by the semantic check) when the service has no tcp port', () => {
    expect(toLoadBalancer({}, [{ port: 53, protocol: 'udp' }]).targetPort).toBe(0);
  });
});

describe('firstTcpPort / hashKeyNeedsHttp', () => {
  it('finds the first tcp port, skipping udp', () => {
    expect(firstTcpPort(ports)).toBe(8080);
    expect(firstTcpPort([{ port: 53, protocol: 'udp' }])).toBeUndefined();
  });

  it('needs http for everything but client-ip', () => {
    expect(hashKeyNeedsHttp(undefined)).toBe(false);
    expect(hashKeyNeedsHttp('client-ip')).toBe(false);
    expect(hashKeyNeedsHttp('header:X-User')).toBe(true);
  });
});

describe('toRouteSpec', () => {
  it('defaults pathPrefix to / and backend weights to 1', () => {
    const spec = toRouteSpec({
      publish: { port: 8000 },
      rules: [{ host: 'shop.example.com', backends: [{ service: 'web' }, { service: 'web-next', weight: 0 }] }, { pathPrefix: '/api', backends: [{ service: 'api' }] }],
    });
    expect(spec).toEqual({
      publish: { port: 8000 },
      rules: [
        { host: 'shop.example.com', pathPrefix: '/', backends: [{ service: 'web', weight: 1 }, { service: 'web-next', weight: 0 }] },
        { pathPrefix: '/api', backends: [{ service: 'api', weight: 1 }] },
      ],
    });
  });
});
