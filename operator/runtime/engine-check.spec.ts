import { describe, expect, it } from 'vitest';
import { checkEngine, compareVersions } from './engine-check.ts';
import { NodePool, type NodeConnection } from './node-pool.ts';
import type { EngineCheck } from './engine-check.ts';
import type { ContainerRuntime } from './runtime.ts';
import { createLogger } from '../util/log.ts';

// /version and /info as Docker 20.10 (Debian) and Podman 4.3 (Debian) answer them, trimmed to what the check reads.
const docker = { version: { Version: '20.10.24+dfsg1', ApiVersion: '1.41', Components: [{ Name: 'Engine', Version: '20.10.24+dfsg1' }] }, info: { InitBinary: 'docker-init' } };
const podman = {
  version: { Version: '4.3.1', ApiVersion: '1.41', Components: [{ Name: 'Podman Engine', Version: '4.3.1' }, { Name: 'Conmon' }] },
  info: { InitBinary: '' },
  libpod: { host: { networkBackend: 'netavark' } },
};

describe('engine check', () => {
  it('Docker 20.10 and Podman 4.3 have what berth needs; Podman names its differences', () => {
    expect(checkEngine(docker)).toEqual({ kind: 'docker', engine: 'Docker 20.10.24+dfsg1', missing: [], limits: [] });
    const p = checkEngine(podman);
    expect(p).toMatchObject({ kind: 'podman', engine: 'Podman 4.3.1', missing: [] });
    expect(p.limits.join('\n')).toMatch(/no in-place update/);
    expect(p.limits.join('\n')).toMatch(/Buildah/);
  });

  it('names exactly what is missing: an old API, an old Podman, no init binary; a CNI backend is a limit', () => {
    expect(checkEngine({ ...docker, version: { ...docker.version, ApiVersion: '1.40' } }).missing).toEqual(['Docker API 1.41 or newer (the engine speaks 1.40)']);
    expect(checkEngine({ ...docker, info: {} }).missing).toEqual(['an init binary (docker-init) for init: true: the engine reports none']);
    const old = checkEngine({ ...podman, version: { ...podman.version, Version: '3.4.4', ApiVersion: '1.40' } });
    expect(old.missing).toEqual(['Docker API 1.41 or newer (the engine speaks 1.40)', 'Podman 4.0 or newer (this is 3.4.4)']);
    const cni = checkEngine({ ...podman, libpod: { host: { networkBackend: 'cni' } } });
    expect(cni.missing).toEqual([]);
    expect(cni.limits[0]).toMatch(/^network backend cni: .*dnsname/);
  });

  it('compares versions by number', () => {
    expect(compareVersions('1.41', '1.9')).toBeGreaterThan(0);
    expect(compareVersions('1.40', '1.41')).toBeLessThan(0);
    expect(compareVersions('4.3.1', '4.0')).toBeGreaterThan(0);
    expect(compareVersions('20.10.24+dfsg1', '20.10.24')).toBe(0);
  });
});

describe('node pool: the engine check', () => {
  const connection = (check: () => Promise<EngineCheck>): NodeConnection => ({
    runtime: { ping: async () => undefined } as unknown as ContainerRuntime,
    info: async () => ({ cpu: 2, memory: 1 << 30 }),
    check,
  });

  it('a node answering before its first check stays Unknown: only the check makes it Ready', async () => {
    const pool = new NodePool({
      connect: () => connection(() => new Promise<EngineCheck>(() => undefined)), // a check that never finishes
      local: { endpoint: 'unix:///x', labels: {}, capacity: {}, unschedulable: false },
      graceMs: 60_000, pingMs: 60_000, log: createLogger({ write: () => undefined }),
    });
    pool.report('local', true);
    expect(pool.get('local')?.state).toBe('Unknown');
    pool.stop();
  });

  it('a node lacking a capability is NotReady at once with it named, the others Ready; fixed, it becomes Ready', async () => {
    let old = true;
    const checks = new Map<string, () => Promise<EngineCheck>>([
      ['old', async () => checkEngine({ ...podman, version: { ...podman.version, ApiVersion: old ? '1.40' : '1.41' } })],
      ['fine', async () => checkEngine(docker)],
    ]);
    const pool = new NodePool({
      connect: (name) => connection(checks.get(name)!),
      local: { endpoint: 'unix:///x', labels: {}, capacity: {}, unschedulable: false },
      graceMs: 60_000, pingMs: 60_000, log: createLogger({ write: () => undefined }),
    });
    const spec = (endpoint: string) => ({ endpoint, labels: {}, capacity: {}, unschedulable: false });
    pool.sync([{ name: 'old', spec: spec('unix:///old') }, { name: 'fine', spec: spec('unix:///fine') }] as never);
    await pool.pingAll();
    expect(pool.get('old')).toMatchObject({ state: 'NotReady', engine: 'Podman 4.3.1', error: 'Podman 4.3.1 lacks what berth needs: Docker API 1.41 or newer (the engine speaks 1.40)' });
    expect(pool.get('fine')).toMatchObject({ state: 'Ready', engine: 'Docker 20.10.24+dfsg1' });
    pool.report('old', true); // a call to it that succeeded: says nothing of what it lacks
    expect(pool.get('old')?.state).toBe('NotReady');
    old = false;
    await pool.pingAll();
    expect(pool.get('old')).toMatchObject({ state: 'Ready' });
    expect(pool.get('old')?.error).toBeUndefined();
    pool.stop();
  });
});
