/**
 * Discovery for containers against the real engine: a namespace network created through the runtime, replicas that
 * reach each other by service name (alias), host.docker.internal, and what observe() reports. Everything carries
 * berth.instance=<a unique instance> and is removed by it.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { networkName } from '../operator/model/keys.ts';
import { createDockerRuntime } from '../operator/runtime/docker.ts';
import type { CreateContainerSpec, RuntimeEvent } from '../operator/runtime/runtime.ts';
import { EXTRA_HOSTS } from '../operator/diff/container-spec.ts';
import { cleanupInstance, DEFAULT_NETWORK, INSPECT_CONTAINER, logRequests, testDocker, TEST_IMAGE, uniqueInstance, waitFor, waitSubscribed } from './helpers/docker.ts';

const docker = testDocker();
const runtime = createDockerRuntime(docker);
const instance = uniqueInstance('net');
const net = networkName(instance, 'shop');
const labels = { 'berth.managed': 'true', 'berth.instance': instance, 'berth.namespace': 'shop' };

function spec(name: string, service: string, over: Partial<CreateContainerSpec> = {}): CreateContainerSpec {
  return {
    name: `${instance}.${name}`, image: TEST_IMAGE, command: ['sleep', '300'], env: {}, exposedPorts: [], restartPolicy: 'no', mounts: [],
    labels: { ...labels, 'berth.service': service }, network: { name: net, aliases: [service] }, extraHosts: [...EXTRA_HOSTS], init: true, ...over,
  };
}

async function running(s: CreateContainerSpec): Promise<string> {
  const id = await runtime.createContainer(s);
  await runtime.startContainer(id);
  return id;
}

/** Networks of that exact name on the engine. */
async function named(name: string): Promise<number> {
  return (await docker.listNetworks({ filters: { name: [name] } })).filter((n) => n.Name === name).length;
}

afterAll(async () => {
  await cleanupInstance(docker, instance);
});

describe('docker runtime: networks and discovery', () => {
  it('createNetwork is idempotent, also when creates race, and observe lists the network with its labels', async () => {
    await runtime.createNetwork(net, labels);
    await runtime.createNetwork(net, labels);
    expect(await named(net)).toBe(1);
    const state = await runtime.observe(instance, []);
    expect(state.networks).toEqual([{ name: net, id: expect.stringMatching(/^[0-9a-f]{64}$/), labels }]);
    const inspect = await docker.getNetwork(net).inspect();
    expect(inspect).toMatchObject({ Driver: 'bridge', Labels: labels });

    const raced = networkName(instance, 'race');
    const other = createDockerRuntime(testDocker()); // a second client, as another operator process would have
    const results = await Promise.allSettled([
      ...[1, 2, 3].map(() => runtime.createNetwork(raced, labels)),
      ...[1, 2, 3].map(() => other.createNetwork(raced, labels)),
    ]);
    expect(results.map((r) => r.status)).toEqual(Array(6).fill('fulfilled'));
    expect(await named(raced)).toBe(1);
    await runtime.removeNetwork(raced);
  });

  it('a replica reaches another by its service name, and host.docker.internal is the host', async () => {
    const host = http.createServer((_req, res) => res.end('from the host\n'));
    await new Promise<void>((resolve) => host.listen(0, '0.0.0.0', resolve));
    try {
      const web = await running(spec('web', 'web', {
        command: ['sh', '-c', 'mkdir -p /www && echo hello from web > /www/index.html && exec httpd -f -p 8080 -h /www'],
      }));
      const client = await running(spec('client', 'client'));
      const page = await waitFor(async () => {
        const r = await runtime.exec(client, ['wget', '-qO-', 'http://web:8080/'], 5_000);
        return r.exitCode === 0 ? r.output : undefined;
      }, { what: 'the client fetching http://web:8080/' });
      expect(page).toBe('hello from web\n');
      const lookup = await runtime.exec(client, ['nslookup', 'web'], 5_000);
      const webIp = (await docker.getContainer(web).inspect()).NetworkSettings.Networks[net]?.IPAddress;
      expect(lookup.exitCode).toBe(0);
      expect(lookup.output).toContain(webIp);

      const hosts = await runtime.exec(client, ['cat', '/etc/hosts'], 5_000);
      expect(hosts.output).toMatch(/^\d+\.\d+\.\d+\.\d+\s+host\.docker\.internal$/m);
      // busybox wget crashes resolving names from /etc/hosts in this static build; nc resolves them fine.
      const port = (host.address() as AddressInfo).port;
      const reply = await runtime.exec(client, ['sh', '-c', `printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 5 host.docker.internal ${port}`], 10_000);
      expect(reply.exitCode).toBe(0);
      expect(reply.output).toContain('from the host');
    } finally {
      await new Promise((resolve) => host.close(resolve));
    }
  });

  it('observe reports each container\'s networks and its address on the berth network, fresh after a manual disconnect', async () => {
    const client = testDocker();
    const log = logRequests(client);
    const rt = createDockerRuntime(client);
    const id = await running(spec('observed', 'api'));
    const events: RuntimeEvent[] = [];
    const off = rt.subscribe(instance, (e) => events.push(e));
    try {
      const ip = (await docker.getContainer(id).inspect()).NetworkSettings.Networks[net]?.IPAddress;
      expect(ip).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
      await waitSubscribed(docker, events, id);
      expect((await rt.observe(instance, [])).containers.find((c) => c.id === id)).toMatchObject({ networks: [net], address: ip });

      // Network (dis)connects emit no container event: the cached inspect stays, the list answer carries the change.
      await docker.getNetwork(DEFAULT_NETWORK).connect({ Container: id });
      await docker.getNetwork(net).disconnect({ Container: id });
      const inspects = log.count(INSPECT_CONTAINER);
      const moved = (await rt.observe(instance, [])).containers.find((c) => c.id === id);
      expect(log.count(INSPECT_CONTAINER)).toBe(inspects);
      expect(moved?.networks).toEqual([DEFAULT_NETWORK]);
      expect(moved?.address).toBe((await docker.getContainer(id).inspect()).NetworkSettings.Networks[DEFAULT_NETWORK]?.IPAddress);
    } finally {
      off();
      await runtime.removeContainer(id);
    }
  });

  it('a container on a network that does not exist fails with a transient E_DOCKER (at create or start), not a missing image', async () => {
    const missing = networkName(instance, 'absent');
    // Docker 20.10 accepts the create and refuses the start; newer engines refuse the create.
    const err = await running(spec('nonet', 'x', { network: { name: missing, aliases: ['x'] } })).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'E_DOCKER', terminal: false });
    expect((err as Error).message).toContain(missing);
    const left = (await runtime.observe(instance, [])).containers.filter((c) => c.name === `${instance}.nonet`);
    for (const c of left) await runtime.removeContainer(c.id);
  });

  it('removeNetwork: in use is a transient E_DOCKER; once its containers are gone it goes; gone is fine', async () => {
    const inUse = await runtime.removeNetwork(net).catch((e: unknown) => e);
    expect(inUse).toMatchObject({ code: 'E_DOCKER', terminal: false });
    expect((inUse as Error).message).toContain('in use');
    for (const c of (await runtime.observe(instance, [])).containers) await runtime.removeContainer(c.id);
    await runtime.removeNetwork(net);
    await runtime.removeNetwork(net);
    expect((await runtime.observe(instance, [])).networks).toEqual([]);
  });
});
