import { describe, expect, it } from 'vitest';
import type { LoadBalancerSpec, PortSpec } from '../model/manifest.ts';
import { HOST_GATEWAY, discoveryVariables, envPrefix, serviceEnv } from './discovery.ts';
import type { DiscoveryTarget } from './discovery.ts';

const tcp = (port: number): PortSpec => ({ port, protocol: 'tcp' });
const lb = (more: Partial<LoadBalancerSpec> = {}): LoadBalancerSpec => ({ algorithm: 'round-robin', protocol: 'tcp', targetPort: 8080, weight: 1, ...more });
const target = (name: string, ports: PortSpec[], loadBalancer?: LoadBalancerSpec): DiscoveryTarget => ({ name, spec: { ports, ...(loadBalancer ? { loadBalancer } : {}) } });

describe('envPrefix', () => {
  it('upper-cases and turns "-" into "_"', () => {
    expect(envPrefix('web-api-2')).toBe('WEB_API_2');
    expect(envPrefix('db')).toBe('DB');
  });
});

describe('discoveryVariables', () => {
  it('points at the service name and its first tcp port without a load balancer', () => {
    expect(discoveryVariables(target('db', [{ port: 53, protocol: 'udp' }, tcp(5432), tcp(5433)]))).toEqual({ DB_SERVICE_HOST: 'db', DB_SERVICE_PORT: '5432' });
  });

  it('uses loadBalancer.targetPort when the service is not published', () => {
    expect(discoveryVariables(target('api', [tcp(9000), tcp(9090)], lb({ targetPort: 9090 })))).toEqual({ API_SERVICE_HOST: 'api', API_SERVICE_PORT: '9090' });
  });

  it('points at the operator proxy on the host gateway when the service is published', () => {
    const vars = discoveryVariables(target('web-api', [tcp(8080)], lb({ publish: { port: 18080, host: '0.0.0.0' } })));
    expect(vars).toEqual({ WEB_API_SERVICE_HOST: HOST_GATEWAY, WEB_API_SERVICE_PORT: '18080' });
    expect(HOST_GATEWAY).toBe('host.docker.internal');
  });

  it('gives only the host when the service has no tcp port', () => {
    expect(discoveryVariables(target('dns', [{ port: 53, protocol: 'udp' }]))).toEqual({ DNS_SERVICE_HOST: 'dns' });
    expect(discoveryVariables(target('worker', []))).toEqual({ WORKER_SERVICE_HOST: 'worker' });
  });
});

describe('serviceEnv', () => {
  const services = new Map([
    ['db', target('db', [tcp(5432)])],
    ['cache', target('cache', [tcp(6379)], lb({ targetPort: 6379, publish: { port: 16379 } }))],
  ]);
  const lookup = (name: string): DiscoveryTarget | undefined => services.get(name);

  it('adds the variables of every dependency, and skips names it cannot find', () => {
    expect(serviceEnv({ dependsOn: ['db', 'cache', 'gone'], env: {} }, lookup)).toEqual({
      DB_SERVICE_HOST: 'db',
      DB_SERVICE_PORT: '5432',
      CACHE_SERVICE_HOST: HOST_GATEWAY,
      CACHE_SERVICE_PORT: '16379',
    });
  });

  it('lets spec.env win over discovery', () => {
    const env = serviceEnv({ dependsOn: ['db'], env: { DB_SERVICE_HOST: 'db.example.com', LOG_LEVEL: 'info' } }, lookup);
    expect(env).toEqual({ DB_SERVICE_HOST: 'db.example.com', DB_SERVICE_PORT: '5432', LOG_LEVEL: 'info' });
  });

  it('is spec.env alone without dependencies', () => {
    expect(serviceEnv({ dependsOn: [], env: { A: '1' } }, lookup)).toEqual({ A: '1' });
  });
});
