/**
 * The test infrastructure for many hosts: the two extra engines of scripts/engines.sh answer beside the main
 * one, berth-e2 only to clients with certificates, containers on berth-e1 are reachable from this process, and the
 * user-defined networks of the three engines never overlap. Everything carries berth.instance=<a unique instance>
 * and is removed by it; the base image loaded into the extra engines stays there (shared setup, reloaded only if it changed).
 */
import { readFileSync } from 'node:fs';
import Dockerode from 'dockerode';
import { afterAll, describe, expect, it } from 'vitest';
import { LABELS } from '../operator/model/keys.ts';
import { cleanupInstance, testDocker, TEST_IMAGE, uniqueInstance, waitFor } from './helpers/docker.ts';
import { extraEngines, loadImage } from './helpers/engines.ts';

const main = testDocker();
const { e1, e2 } = extraEngines();
const instance = uniqueInstance('engines');
const labels = { [LABELS.managed]: 'true', [LABELS.instance]: instance };

const SERVE = (text: string) => ['sh', '-c', `mkdir -p /www && echo ${text} > /www/index.html && exec httpd -f -p 8080 -h /www`];

/** A labelled httpd container on `docker`, started, attached to `network` (the default bridge when omitted). */
async function httpd(docker: Dockerode, name: string, network?: string): Promise<Dockerode.Container> {
  const c = await docker.createContainer({
    name: `${instance}.${name}`, Image: TEST_IMAGE, Cmd: SERVE(name), Labels: labels,
    HostConfig: network ? { NetworkMode: network } : {},
  });
  await c.start();
  return c;
}

async function createNetwork(docker: Dockerode, name: string, owner = instance): Promise<Dockerode.NetworkInspectInfo> {
  const { id } = await docker.createNetwork({ Name: `${owner}.${name}`, Driver: 'bridge', Labels: { ...labels, [LABELS.instance]: owner } });
  return docker.getNetwork(id).inspect();
}

function subnets(n: Dockerode.NetworkInspectInfo): string[] {
  return (n.IPAM?.Config ?? []).map((c) => c.Subnet).filter((s): s is string => !!s && !s.includes(':'));
}

function range(cidr: string): [number, number] {
  const [ip, bits] = cidr.split('/');
  const base = ip!.split('.').reduce((acc, part) => acc * 256 + Number(part), 0);
  const size = 2 ** (32 - Number(bits));
  const start = base - (base % size);
  return [start, start + size - 1];
}

function within(cidr: string, outer: string): boolean {
  const [a, b] = range(cidr);
  const [c, d] = range(outer);
  return a >= c && b <= d;
}

function overlaps(x: string, y: string): boolean {
  const [a, b] = range(x);
  const [c, d] = range(y);
  return a <= d && c <= b;
}

/** The body of GET http://ip:8080/ once the container answers (fetch errors are retried until the deadline). */
async function httpGet(ip: string): Promise<string> {
  return waitFor(() => fetch(`http://${ip}:8080/`, { signal: AbortSignal.timeout(2_000) }).then((r) => r.text(), () => undefined), {
    what: `httpd on ${ip}:8080`, timeoutMs: 10_000,
  });
}

afterAll(async () => {
  await Promise.all([cleanupInstance(e1.docker, instance), cleanupInstance(e2.docker, instance), cleanupInstance(main, instance)]);
});

describe('extra test engines', () => {
  it('both answer, each with its own engine ID and label', async () => {
    const [m, i1, i2] = await Promise.all([main.info(), e1.docker.info(), e2.docker.info()]);
    expect(i1.Labels).toContain('berth.test-engine=berth-e1');
    expect(i2.Labels).toContain('berth.test-engine=berth-e2');
    expect(new Set([m.ID, i1.ID, i2.ID]).size).toBe(3);
    expect(new Set([m.DockerRootDir, i1.DockerRootDir, i2.DockerRootDir]).size).toBe(3);
    expect(e1.endpoint).toBe('unix:///run/berth-engines/e1/docker.sock');
    expect(e2.endpoint).toBe('tcp://127.0.0.1:23760');
  });

  it('berth-e2 refuses a client without certificates and accepts the client certificates', async () => {
    const noCert = new Dockerode({ protocol: 'https', host: '127.0.0.1', port: 23760, ca: readFileSync(e2.tls.ca) });
    await expect(noCert.version()).rejects.toThrow(/bad certificate|certificate required/i);
    const untrusted = new Dockerode({ protocol: 'https', host: '127.0.0.1', port: 23760, cert: readFileSync(e2.tls.cert), key: readFileSync(e2.tls.key) });
    await expect(untrusted.version()).rejects.toThrow(/unable to verify|self[- ]signed/i);
    const plain = new Dockerode({ protocol: 'http', host: '127.0.0.1', port: 23760 });
    await expect(plain.version()).rejects.toThrow(/HTTPS server/);
    const version = await e2.docker.version();
    expect(version.ApiVersion).toBe((await main.version()).ApiVersion);
  });

  it('a container on berth-e1 gets an address from its bridge, and one on its own network from its pool, both reachable', async () => {
    await loadImage(e1.docker, TEST_IMAGE);
    const net = await createNetwork(e1.docker, 'reach');
    const [onBridge, onNet] = await Promise.all([httpd(e1.docker, 'bridge'), httpd(e1.docker, 'pool', net.Name)]);
    const bridgeIp = (await onBridge.inspect()).NetworkSettings.Networks.bridge!.IPAddress;
    const netIp = (await onNet.inspect()).NetworkSettings.Networks[net.Name]!.IPAddress;
    expect(within(`${bridgeIp}/32`, e1.bridgeSubnet)).toBe(true);
    expect(within(`${netIp}/32`, e1.addressPool)).toBe(true);
    expect(await httpGet(bridgeIp)).toBe('bridge\n');
    expect(await httpGet(netIp)).toBe('pool\n');
  });

  it('user-defined networks of berth-e1 and berth-e2 come from their own pools, apart from the main engine', async () => {
    const [n1, n2] = await Promise.all([createNetwork(e1.docker, 'pool'), createNetwork(e2.docker, 'pool')]);
    expect(subnets(n1)).toHaveLength(1);
    expect(subnets(n2)).toHaveLength(1);
    expect(within(subnets(n1)[0]!, e1.addressPool)).toBe(true);
    expect(within(subnets(n2)[0]!, e2.addressPool)).toBe(true);
    const mainNets = (await Promise.all((await main.listNetworks()).map((n) => main.getNetwork(n.Id).inspect().catch(() => undefined))))
      .filter((n): n is Dockerode.NetworkInspectInfo => n !== undefined)
      .flatMap(subnets);
    expect(mainNets.length).toBeGreaterThan(0);
    for (const ours of [...subnets(n1), ...subnets(n2), e1.bridgeSubnet, e2.bridgeSubnet]) {
      expect(mainNets.filter((m) => overlaps(m, ours)), `${ours} overlaps the main engine`).toEqual([]);
    }
  });

  it('cleanup removes only what the test created', async () => {
    const other = uniqueInstance('engines-other');
    try {
      await loadImage(e2.docker, TEST_IMAGE);
      const mine = await createNetwork(e2.docker, 'mine');
      const theirs = await createNetwork(e2.docker, 'theirs', other);
      const c = await httpd(e2.docker, 'e2', mine.Name);
      const ip = (await c.inspect()).NetworkSettings.Networks[mine.Name]!.IPAddress;
      expect(within(`${ip}/32`, e2.addressPool)).toBe(true);
      expect(await httpGet(ip)).toBe('e2\n');

      await cleanupInstance(e2.docker, instance);
      const left = await e2.docker.listContainers({ all: true, filters: { label: [`${LABELS.instance}=${instance}`] } });
      expect(left).toEqual([]);
      const nets = (await e2.docker.listNetworks()).map((n) => n.Name);
      expect(nets).not.toContain(mine.Name);
      expect(nets).toContain(theirs.Name);
      expect(nets).toContain('bridge');
      await expect(e2.docker.getImage(TEST_IMAGE).inspect()).resolves.toBeTruthy();
    } finally {
      await cleanupInstance(e2.docker, other);
    }
  });
});
