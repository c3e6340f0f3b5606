import { describe, expect, it } from 'vitest';
import { parseEntries } from '../manifests/parse.ts';
import { loadDesired } from '../manifests/load.ts';
import { memorySnapshot } from '../source/memory-source.ts';
import { ValidationError, formatIssue } from '../model/errors.ts';
import { wantedListeners } from '../proxy/proxies.ts';
import { containerSpec } from '../diff/container-spec.ts';

const STACK = `name: s
services:
  web:
    image: web
    ports:
      - "18080:80"
      - target: 81
        published: 18081
      - "5000:5000/udp"
      - { target: 9000, published: 19000, mode: host }
      - "127.0.0.1:19001:9001"
      - "18082:80"
`;

async function loadIssues(files: Record<string, string>): Promise<string[]> {
  try {
    await loadDesired(memorySnapshot(files, 'r1'), { instance: 'i', path: '' });
  } catch (err) {
    if (err instanceof ValidationError) return err.issues.map(formatIssue);
    throw err;
  }
  return [];
}

describe('compose ports', () => {
  it('publishes every tcp port through the proxy and binds udp, mode: host and host_ip ports on the engine', async () => {
    const r = parseEntries([{ path: 's/compose.yaml', content: STACK }]);
    expect(r.issues).toEqual([]);
    expect(r.entries[0]!.doc.value).toMatchObject({
      spec: {
        ports: [
          { port: 80, protocol: 'tcp', publish: { port: 18082 } },
          { port: 81, protocol: 'tcp', publish: { port: 18081 } },
          { port: 5000, protocol: 'udp', hostPort: 5000 },
          { port: 9000, protocol: 'tcp', hostPort: 19000 },
          { port: 9001, protocol: 'tcp', hostPort: 19001, hostIp: '127.0.0.1' },
        ],
        loadBalancer: { targetPort: 80, publish: { port: 18080 } },
      },
    });
    const d = await loadDesired(memorySnapshot({ 's/compose.yaml': STACK }, 'r1'), { instance: 'i', path: '' });
    const web = d.services[0]!;
    expect(web.spec.update.order).toBe('stop-first'); // compose's default, and the one a host port needs
    const listeners = [...wantedListeners(d, '0.0.0.0').values()].map((w) => [w.port, w.targetPort ?? web.spec.loadBalancer!.targetPort]);
    expect(listeners).toEqual([[18080, 80], [18082, 80], [18081, 81]]);
    expect(containerSpec('i', 'r1', web, 0).portBindings).toEqual([
      { containerPort: '5000/udp', hostPort: 5000 },
      { containerPort: '9000/tcp', hostPort: 19000 },
      { containerPort: '9001/tcp', hostPort: 19001, hostIp: '127.0.0.1' },
    ]);
  });

  it('refuses a third proxy port for one container port and a second binding of one, at the item', () => {
    const content = 'services:\n  web:\n    image: web\n    ports: ["8080:80", "8081:80", "8082:80", "53:53/udp", "54:53/udp"]\n';
    expect(parseEntries([{ path: 's/compose.yaml', content }]).issues.map(formatIssue)).toEqual([
      "s/compose.yaml:4:35: services.web.ports[2]: publishing container port 80/tcp on one more port of berth's proxy is not supported yet",
      's/compose.yaml:4:59: services.web.ports[4]: binding container port 53/udp to a second host port is not supported yet',
    ]);
  });

  it('reports berth checks of a binding at the compose line: replicas > 1, a bad host_ip', () => {
    const issues = (content: string): string[] => parseEntries([{ path: 's/compose.yaml', content }]).issues.map(formatIssue);
    expect(issues('services:\n  dns:\n    image: dns\n    deploy: { replicas: 2 }\n    ports:\n      - "5353:53/udp"\n')).toEqual([
      expect.stringMatching(/^s\/compose\.yaml:6:9: spec\.ports\[0\]\.hostPort: a host port is bound on one node by one container: a service with hostPort runs at most 1 replica \(replicas is 2\)/),
    ]);
    expect(issues('services:\n  dns:\n    image: dns\n    ports:\n      - { target: 80, published: 8080, host_ip: "not-an-ip" }\n')).toEqual([
      's/compose.yaml:5:49: spec.ports[0].hostIp: must be an IP address such as 127.0.0.1 or ::1',
    ]);
  });

  it('refuses two stacks publishing one port, at the compose ports items, naming the other', async () => {
    const a = 'services:\n  web:\n    image: web\n    ports:\n      - "8080:80"\n      - "5000:5000/udp"\n';
    const b = 'services:\n  api:\n    image: api\n    ports:\n      - "9000:9000/udp"\n      - "5000:5000/udp"\n      - "8080:80"\n';
    expect(await loadIssues({ 'a/compose.yaml': a, 'b/compose.yaml': b })).toEqual([
      'a/compose.yaml:6:9: spec.ports[1].hostPort: host port 5000/udp is also bound by Service b/api at b/compose.yaml:6',
      'b/compose.yaml:6:9: spec.ports[1].hostPort: host port 5000/udp is also bound by Service a/web at a/compose.yaml:6',
      'b/compose.yaml:7:9: spec.loadBalancer.publish.port: port 8080 is also published by Service a/web at a/compose.yaml:5',
    ]);
  });

  it('refuses a host binding of a port the proxy publishes, at both compose items', async () => {
    const a = 'services:\n  web:\n    image: web\n    ports: ["8080:80", "8081:81"]\n';
    const b = 'services:\n  api:\n    image: api\n    ports: [{ target: 80, published: 8081, mode: host }]\n';
    expect(await loadIssues({ 'a/compose.yaml': a, 'b/compose.yaml': b })).toEqual([
      'a/compose.yaml:4:24: spec.ports[1].publish.port: port 8081 is also bound by the engine for Service b/api (hostPort) at b/compose.yaml:4',
      "b/compose.yaml:4:38: spec.ports[0].hostPort: host port 8081/tcp is also published by berth's proxy for Service a/web at a/compose.yaml:4",
    ]);
  });
});
