import { describe, expect, it } from 'vitest';
import { extract } from 'tar-stream';
import type { ObservedContainer } from '../model/state.ts';
import { baseImages, packContext } from './docker-build.ts';
import { InspectCache } from './docker-cache.ts';
import { dockerError, engineMessage, statusOf } from './docker-errors.ts';
import { isRegistryDigest } from './docker-observe.ts';
import { createLineSplitter, toRuntimeEvent } from './docker-events.ts';
import { attachments, envRecord, mapLimit } from './docker-observe.ts';
import { createOptions } from './docker.ts';
import { networkOptions } from './docker-network.ts';
import { dockerOptionsFromEndpoint } from './docker-options.ts';

describe('dockerOptionsFromEndpoint', () => {
  it.each([
    ['unix:///run/x/docker.sock', { socketPath: '/run/x/docker.sock' }],
    ['/var/run/docker.sock', { socketPath: '/var/run/docker.sock' }],
    ['tcp://10.0.0.2:2375', { protocol: 'http', host: '10.0.0.2', port: 2375 }],
    ['http://example.org', { protocol: 'http', host: 'example.org', port: 2375 }],
    ['https://10.0.0.3:2376', { protocol: 'https', host: '10.0.0.3', port: 2376 }],
  ])('%s', (endpoint, expected) => {
    expect(dockerOptionsFromEndpoint(endpoint, {})).toEqual(expected);
  });

  it('falls back to DOCKER_HOST, then the default socket', () => {
    expect(dockerOptionsFromEndpoint(undefined, { DOCKER_HOST: 'tcp://h:1234' })).toEqual({ protocol: 'http', host: 'h', port: 1234 });
    expect(dockerOptionsFromEndpoint(undefined, {})).toEqual({ socketPath: '/var/run/docker.sock' });
  });

  it('rejects other schemes with E_CONFIG', () => {
    expect(() => dockerOptionsFromEndpoint('ssh://me@host', {})).toThrow(expect.objectContaining({ code: 'E_CONFIG' }));
    expect(() => dockerOptionsFromEndpoint('not a url', {})).toThrow(expect.objectContaining({ code: 'E_CONFIG' }));
  });
});

describe('event stream parsing', () => {
  const event = (action: string, id = 'c1'): string => JSON.stringify({ Type: 'container', Action: action, Actor: { ID: id, Attributes: { 'berth.instance': 'i', name: 'n', image: 'img', exitCode: '1' } } });

  it('splits lines across and within chunks, skipping blanks', () => {
    const lines: string[] = [];
    const feed = createLineSplitter((l) => lines.push(l));
    const text = `${event('start')}\n\n${event('die')}\n`;
    feed(Buffer.from(text.slice(0, 10)));
    feed(Buffer.from(text.slice(10, 90)));
    feed(Buffer.from(text.slice(90)));
    expect(lines.map((l) => JSON.parse(l).Action)).toEqual(['start', 'die']);
  });

  it('keeps a multi-byte character split between chunks', () => {
    const lines: string[] = [];
    const feed = createLineSplitter((l) => lines.push(l));
    const bytes = Buffer.from('{"x":"é"}\n');
    feed(bytes.subarray(0, 7));
    feed(bytes.subarray(7));
    expect(lines).toEqual(['{"x":"é"}']);
  });

  it('maps actions without suffix, keeps labels only, drops exec events and garbage', () => {
    expect(toRuntimeEvent(JSON.parse(event('health_status: healthy')))).toEqual({ action: 'health_status', containerId: 'c1', labels: { 'berth.instance': 'i' } });
    expect(toRuntimeEvent(JSON.parse(event('exec_create: sh -c true')))).toBeUndefined();
    expect(toRuntimeEvent(JSON.parse(event('exec_die')))).toBeUndefined();
    expect(toRuntimeEvent({ Type: 'network', Action: 'connect', Actor: { ID: 'n' } })).toBeUndefined();
    expect(toRuntimeEvent('x')).toBeUndefined();
    expect(toRuntimeEvent({ status: 'die', id: 'c2' })).toEqual({ action: 'die', containerId: 'c2', labels: {} });
  });

  it("reads Podman's events as Docker's: remove is destroy, its extra attributes are not labels", () => {
    // as Podman 4.3 sends them on its Docker-compatible API
    const podman = (action: string) => ({
      status: action, id: 'c3', from: 'localhost/berth-local/busybox:1', Type: 'container', Action: action,
      Actor: { ID: 'c3', Attributes: { 'berth.instance': 'i', containerExitCode: '137', exitCode: '137', image: 'localhost/berth-local/busybox:1', name: 'x', podId: '' } },
    });
    expect(toRuntimeEvent(podman('remove'))).toEqual({ action: 'destroy', containerId: 'c3', labels: { 'berth.instance': 'i' } });
    expect(toRuntimeEvent(podman('die'))).toEqual({ action: 'die', containerId: 'c3', labels: { 'berth.instance': 'i' } });
  });
});

describe('InspectCache', () => {
  const value = (id: string): ObservedContainer => ({
    id, name: id, labels: {}, status: 'running', exitCode: 0, imageId: 'sha256:x', command: [], env: {}, restartPolicy: 'no', nanoCpus: 0, memory: 0, createdAt: 't',
  });

  it('stores only while a subscription is connected and drops everything on disconnect', () => {
    const cache = new InspectCache();
    cache.begin('i');
    expect(cache.ticket('i')).toBeUndefined();
    cache.connect('i', 1);
    cache.put('i', 'a', cache.ticket('i'), value('a'));
    expect(cache.get('i', 'a')?.id).toBe('a');
    expect(cache.get('other', 'a')).toBeUndefined();
    cache.disconnect('i', 1);
    expect(cache.get('i', 'a')).toBeUndefined();
  });

  it('refuses a result that raced with an invalidation or a reconnect', () => {
    const cache = new InspectCache();
    cache.connect('i', 1);
    cache.begin('i');
    const ticket = cache.ticket('i');
    cache.invalidate('i', 'a');
    cache.put('i', 'a', ticket, value('a'));
    cache.put('i', 'b', ticket, value('b'));
    expect(cache.get('i', 'a')).toBeUndefined();
    expect(cache.get('i', 'b')?.id).toBe('b');
    const before = cache.ticket('i');
    cache.disconnect('i', 1);
    cache.connect('i', 1);
    cache.put('i', 'c', before, value('c'));
    expect(cache.get('i', 'c')).toBeUndefined();
    cache.end('i', new Set(['b']));
  });

  it('forgets ids that are no longer listed', () => {
    const cache = new InspectCache();
    cache.connect('i', 1);
    cache.begin('i');
    cache.put('i', 'a', cache.ticket('i'), value('a'));
    cache.put('i', 'b', cache.ticket('i'), value('b'));
    cache.end('i', new Set(['b']));
    expect(cache.size('i')).toBe(1);
    expect(cache.get('i', 'b')?.id).toBe('b');
  });
});

describe('build context', () => {
  it('names external base images only', () => {
    const df = 'FROM --platform=linux/amd64 base/a:1 AS build\nRUN x\nFROM build\nFROM scratch\nCOPY --from=build /a /a\nCOPY --from=tools/b:2 /b /b\nFROM ${X}\nFROM \\\n base/c:3\n';
    expect(baseImages(df)).toEqual(['base/a:1', 'tools/b:2', 'base/c:3']);
  });

  it('packs sorted entries with modes kept and a fixed mtime', async () => {
    const tar = packContext([
      { path: 'b/run.sh', mode: 0o100755, content: Buffer.from('#!/bin/sh\n') },
      { path: './a.txt', mode: 0o100644, content: Buffer.from('a') },
    ]);
    const entries: { name: string; mode?: number; mtime?: Date }[] = [];
    const ex = extract();
    ex.on('entry', (h, stream, next) => { entries.push({ name: h.name, mode: h.mode, mtime: h.mtime }); stream.on('end', next); stream.resume(); });
    const done = new Promise<void>((resolve) => ex.on('finish', () => resolve()));
    tar.pipe(ex);
    await done;
    expect(entries).toEqual([
      { name: 'a.txt', mode: 0o644, mtime: new Date(0) },
      { name: 'b/run.sh', mode: 0o755, mtime: new Date(0) },
    ]);
  });

  it('refuses paths that leave the context', () => {
    expect(() => packContext([{ path: '../x', mode: 0o644, content: Buffer.alloc(0) }])).toThrow(expect.objectContaining({ code: 'E_BUILD' }));
  });
});

describe('helpers', () => {
  it('envRecord splits on the first "="', () => {
    expect(envRecord(['A=b=c', 'EMPTY=', 'BARE'])).toEqual({ A: 'b=c', EMPTY: '', BARE: '' });
  });

  it('mapLimit keeps order and bounds concurrency', async () => {
    let inFlight = 0;
    let peak = 0;
    const out = await mapLimit([1, 2, 3, 4, 5, 6], 2, async (n) => {
      inFlight += 1;
      peak = Math.max(peak, inFlight);
      await Promise.resolve();
      inFlight -= 1;
      return n * 10;
    });
    expect(out).toEqual([10, 20, 30, 40, 50, 60]);
    expect(peak).toBe(2);
  });

  it('engine failures become transient E_DOCKER with the engine message on one line', () => {
    const err = Object.assign(new Error('(HTTP code 500) server error - boom'), { statusCode: 500, json: { message: 'boom\nmore' } });
    expect(dockerError(err, 'start container x', 'unix:///s')).toMatchObject({ code: 'E_DOCKER', terminal: false, message: 'start container x on unix:///s failed (HTTP 500): boom more' });
    const refused = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
    expect(dockerError(refused, 'ping', 'tcp://h:1').message).toContain('docker engine at tcp://h:1 is unreachable (ECONNREFUSED)');
    expect(engineMessage(Object.assign(new Error('(HTTP code 400) unexpected - bad thing '), { statusCode: 400, json: null }))).toBe('bad thing');
  });
});

describe('networks', () => {
  it('a spec with a network and extra hosts -> NetworkMode, endpoint aliases and ExtraHosts', () => {
    const body = createOptions({
      name: 'c', image: 'img', env: {}, labels: {}, exposedPorts: [], restartPolicy: 'no', mounts: [],
      network: { name: 'berth.i.ns', aliases: ['web'] }, extraHosts: ['host.docker.internal:host-gateway'],
    });
    expect(body.HostConfig).toMatchObject({ NetworkMode: 'berth.i.ns', ExtraHosts: ['host.docker.internal:host-gateway'] });
    expect(body.NetworkingConfig).toEqual({ EndpointsConfig: { 'berth.i.ns': { Aliases: ['web'] } } });
    const plain = createOptions({ name: 'c', image: 'img', env: {}, labels: {}, exposedPorts: [], restartPolicy: 'no', mounts: [] });
    expect(plain.NetworkingConfig).toBeUndefined();
    expect(plain.HostConfig?.NetworkMode).toBeUndefined();
  });

  it('security: no-new-privileges and the dropped capabilities in HostConfig, privileged only when asked', () => {
    const base = { name: 'c', image: 'img', env: {}, labels: {}, exposedPorts: [], restartPolicy: 'no', mounts: [] };
    const hardened = createOptions({ ...base, security: { privileged: false, noNewPrivileges: true, capAdd: [], capDrop: ['NET_RAW'] } }).HostConfig;
    expect(hardened).toMatchObject({ SecurityOpt: ['no-new-privileges:true'], CapDrop: ['NET_RAW'] });
    expect(hardened).not.toHaveProperty('Privileged');
    expect(hardened).not.toHaveProperty('CapAdd');
    const ping = createOptions({ ...base, security: { privileged: false, noNewPrivileges: false, capAdd: ['NET_RAW'], capDrop: [] } }).HostConfig;
    expect(ping).toMatchObject({ CapAdd: ['NET_RAW'] });
    expect(ping).not.toHaveProperty('CapDrop');
    expect(ping).not.toHaveProperty('SecurityOpt');
    const privileged = createOptions({ ...base, security: { privileged: true, noNewPrivileges: false, capAdd: ['NET_RAW'], capDrop: ['MKNOD'] } }).HostConfig;
    expect(privileged).toEqual(expect.objectContaining({ Privileged: true }));
    expect(Object.keys(privileged ?? {}).filter((k) => /Cap|SecurityOpt/.test(k))).toEqual([]);
    // No security in the request: the engine's defaults, as for a container of a berth before these settings.
    expect(Object.keys(createOptions(base).HostConfig ?? {}).filter((k) => /Cap|SecurityOpt|Privileged/.test(k))).toEqual([]);
  });

  it('a network is a bridge labelled berth.managed=true, refused by the engine when the name exists', () => {
    expect(networkOptions('berth.i.ns', { 'berth.instance': 'i' })).toEqual({
      Name: 'berth.i.ns', Driver: 'bridge', CheckDuplicate: true, Labels: { 'berth.instance': 'i', 'berth.managed': 'true' },
    });
  });

  it('attachments: network names, the IP on the preferred network first, host networking, none when stopped', () => {
    const settings = { Networks: { bridge: { IPAddress: '172.17.0.2' }, 'berth.i.ns': { IPAddress: '172.20.0.3' } } };
    expect(attachments({ NetworkSettings: settings }, 'berth.i.ns')).toEqual({ networks: ['berth.i.ns', 'bridge'], address: '172.20.0.3' });
    expect(attachments({ NetworkSettings: { Networks: { bridge: { IPAddress: '172.17.0.2' }, zz: { IPAddress: '' } } } }, 'berth.i.ns')).toEqual({ networks: ['bridge', 'zz'], address: '172.17.0.2' });
    expect(attachments({ NetworkSettings: { Networks: { 'berth.i.ns': { IPAddress: '' } } } }, 'berth.i.ns')).toEqual({ networks: ['berth.i.ns'] });
    expect(attachments({ NetworkSettings: { Networks: { host: { IPAddress: '' } } }, HostConfig: { NetworkMode: 'host' } })).toEqual({ networks: ['host'], address: '127.0.0.1' });
  });
});

describe('Podman on the Docker API', () => {
  it("reads a Podman 500 by its cause as Docker's status; other 500s stay 500", () => {
    const podman = (cause: string) => ({ statusCode: 500, json: { cause, message: `x: ${cause}`, response: 500 } });
    expect(statusOf(podman('container state improper'))).toBe(409);
    expect(statusOf(podman('that name is already in use'))).toBe(409);
    expect(statusOf(podman('network is being used'))).toBe(409);
    expect(statusOf(podman('no such container'))).toBe(404);
    expect(statusOf(podman('invalid argument'))).toBe(500);
    expect(statusOf({ statusCode: 500, json: { message: 'docker' } })).toBe(500);
    expect(statusOf({ statusCode: 409 })).toBe(409);
  });

  it("a loaded or built image's localhost/ digest on Podman is no registry's", () => {
    expect(isRegistryDigest('localhost/berth-local/busybox@sha256:9b')).toBe(false);
    expect(isRegistryDigest('localhost:5000/app@sha256:9b')).toBe(true);
    expect(isRegistryDigest('registry.example/app@sha256:9b')).toBe(true);
  });
});
