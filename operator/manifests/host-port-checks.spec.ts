import { describe, expect, it } from 'vitest';
import { ValidationError, formatIssue } from '../model/errors.ts';
import type { DesiredState } from '../model/state.ts';
import { memorySnapshot } from '../source/memory-source.ts';
import { containerSpec } from '../diff/container-spec.ts';
import { createOptions } from '../runtime/docker.ts';
import { wantedListeners } from '../proxy/proxies.ts';
import { loadDesired } from './load.ts';
import { overlap } from './host-port-checks.ts';

/** A Service `name` of namespace shop whose spec is `spec` (flow YAML, one line). */
const service = (name: string, spec: string, ns = 'shop'): string => `apiVersion: berth/v1
kind: Service
metadata: { name: ${name}, namespace: ${ns} }
spec: ${spec}
`;

async function load(files: Record<string, string>): Promise<DesiredState> {
  return loadDesired(memorySnapshot(files, 'r1'), { instance: 'i', path: '' });
}

async function issues(files: Record<string, string>): Promise<string[]> {
  try {
    await load(files);
  } catch (err) {
    if (err instanceof ValidationError) return err.issues.map(formatIssue);
    throw err;
  }
  throw new Error('expected issues, the revision loaded');
}

describe('spec.ports[].hostPort / hostIp / publish (berth Service kind)', () => {
  it('types the binding, defaults the update order to stop-first, and hands the engine its port bindings', async () => {
    const d = await load({ 'dns.yaml': service('dns', '{ image: dns:1, ports: [{ port: 53, protocol: udp, hostPort: 5353, hostIp: 127.0.0.1 }, { port: 80 }] }') });
    const svc = d.services[0]!;
    expect(svc.spec.ports).toEqual([{ port: 53, protocol: 'udp', hostPort: 5353, hostIp: '127.0.0.1' }, { port: 80, protocol: 'tcp' }]);
    expect(svc.spec.update.order).toBe('stop-first');
    const create = containerSpec('i', 'r1', svc, 0);
    expect(create.portBindings).toEqual([{ containerPort: '53/udp', hostPort: 5353, hostIp: '127.0.0.1' }]);
    const body = createOptions(create);
    expect(body.HostConfig?.PortBindings).toEqual({ '53/udp': [{ HostIp: '127.0.0.1', HostPort: '5353' }] });
    expect(body.ExposedPorts).toEqual({ '53/udp': {}, '80/tcp': {} });
  });

  it('keeps the spec hash and the create body of a service without a binding; a binding changes the hash, ports[].publish does not', async () => {
    const plain = (await load({ 'a.yaml': service('web', '{ image: web:1, ports: [{ port: 80 }] }') })).services[0]!;
    const bound = (await load({ 'a.yaml': service('web', '{ image: web:1, ports: [{ port: 80, hostPort: 8080 }] }') })).services[0]!;
    const proxied = (await load({ 'a.yaml': service('web', '{ image: web:1, ports: [{ port: 80, publish: { port: 18080 } }] }') })).services[0]!;
    expect(bound.specHash).not.toBe(plain.specHash);
    expect(proxied.specHash).toBe(plain.specHash);
    expect(plain.spec.update.order).toBe('start-first');
    expect('portBindings' in containerSpec('i', 'r1', plain, 0)).toBe(false);
    expect(createOptions(containerSpec('i', 'r1', plain, 0)).HostConfig).not.toHaveProperty('PortBindings');
  });

  it('refuses replicas > 1, an explicit start-first, a hostIp without hostPort and a proxied udp port, at the field', async () => {
    expect(await issues({ 'a.yaml': service('dns', '{ image: dns:1, replicas: 2, update: { order: start-first }, ports: [{ port: 53, protocol: udp, hostPort: 53, publish: { port: 5300 } }, { port: 54, hostIp: 127.0.0.1 }] }') })).toEqual([
      'a.yaml:4:53: spec.update.order: start-first would start the new replica while the old one holds host port 53 (spec.ports[0].hostPort): use stop-first (the default with a hostPort)',
      "a.yaml:4:113: spec.ports[0].hostPort: a host port is bound on one node by one container: a service with hostPort runs at most 1 replica (replicas is 2); publish through berth's proxy (publish) to spread over replicas",
      "a.yaml:4:117: spec.ports[0].publish: berth's proxy publishes tcp ports only; bind a udp port with hostPort (the engine's port binding)",
      'a.yaml:4:156: spec.ports[1].hostIp: hostIp needs a hostPort',
    ]);
  });

  it('refuses two Services binding one host port and protocol on overlapping addresses, at both fields', async () => {
    expect(await issues({
      'a.yaml': service('a', '{ image: a:1, ports: [{ port: 53, protocol: udp, hostPort: 5300 }] }'),
      'b.yaml': service('b', '{ image: b:1, ports: [{ port: 53, protocol: udp, hostPort: 5300, hostIp: 127.0.0.1 }] }', 'other'),
    })).toEqual([
      'a.yaml:4:66: spec.ports[0].hostPort: host port 5300/udp is also bound by Service other/b at b.yaml:4',
      'b.yaml:4:66: spec.ports[0].hostPort: host port 5300/udp on 127.0.0.1 is also bound by Service shop/a at a.yaml:4',
    ]);
    // another protocol, or another address, is another binding
    await expect(load({
      'a.yaml': service('a', '{ image: a:1, ports: [{ port: 53, protocol: udp, hostPort: 5300, hostIp: 127.0.0.1 }] }'),
      'b.yaml': service('b', '{ image: b:1, ports: [{ port: 53, protocol: tcp, hostPort: 5300 }] }'),
      'c.yaml': service('c', '{ image: c:1, ports: [{ port: 53, protocol: udp, hostPort: 5300, hostIp: 127.0.0.2 }] }'),
    })).resolves.toBeDefined();
  });

  it("refuses a tcp hostPort that berth's proxy publishes (loadBalancer, ports[].publish or a Route), at both fields", async () => {
    expect(await issues({
      'a.yaml': service('a', '{ image: a:1, ports: [{ port: 80, hostPort: 18080 }] }'),
      'b.yaml': service('b', '{ image: b:1, ports: [{ port: 80 }, { port: 81, publish: { port: 18080 } }] }'),
    })).toEqual([
      "a.yaml:4:51: spec.ports[0].hostPort: host port 18080/tcp is also published by berth's proxy for Service shop/b at b.yaml:4",
      'b.yaml:4:72: spec.ports[1].publish.port: port 18080 is also bound by the engine for Service shop/a (hostPort) at a.yaml:4',
    ]);
  });

  it('refuses a ports[].publish port that another Service publishes, at the second', async () => {
    expect(await issues({
      'a.yaml': service('a', '{ image: a:1, ports: [{ port: 80 }], loadBalancer: { publish: { port: 18080 } } }'),
      'b.yaml': service('b', '{ image: b:1, ports: [{ port: 80 }, { port: 81, publish: { port: 18080 } }] }'),
    })).toEqual(['b.yaml:4:72: spec.ports[1].publish.port: port 18080 is also published by Service shop/a at a.yaml:4']);
  });

  it('opens one proxy listener per ports[].publish, forwarding to that container port with the service algorithm', async () => {
    const d = await load({ 'a.yaml': service('web', '{ image: web:1, ports: [{ port: 80 }, { port: 81, publish: { port: 18081 } }], loadBalancer: { algorithm: least-connections, publish: { port: 18080 } } }') });
    const w = wantedListeners(d, '0.0.0.0');
    expect([...w.keys()]).toEqual(['0.0.0.0:18080', '0.0.0.0:18081']);
    expect(w.get('0.0.0.0:18080')).toMatchObject({ services: ['shop/web'], algorithm: 'least-connections', protocol: 'tcp' });
    expect(w.get('0.0.0.0:18080')!.targetPort).toBeUndefined();
    expect(w.get('0.0.0.0:18081')).toMatchObject({ services: ['shop/web'], algorithm: 'least-connections', protocol: 'tcp', targetPort: 81 });
  });

  it('counts absent, 0.0.0.0 and :: as every address', () => {
    expect(overlap(undefined, '10.0.0.1')).toBe(true);
    expect(overlap('0.0.0.0', '10.0.0.1')).toBe(true);
    expect(overlap('::', '127.0.0.1')).toBe(true);
    expect(overlap('127.0.0.1', '127.0.0.1')).toBe(true);
    expect(overlap('127.0.0.1', '127.0.0.2')).toBe(false);
  });
});
