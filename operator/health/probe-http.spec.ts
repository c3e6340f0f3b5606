/** http and tcp probes against servers of this process on 127.0.0.1 (the container cases are in test/probes.test.ts). */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { ProbeSpec } from '../model/manifest.ts';
import { FakeRuntime } from '../../test/doubles/fake-runtime.ts';
import { waitFor } from '../../test/helpers/docker.ts';
import { createProbeAgents, runProbe, type ProbeDeps, type ProbeTarget } from './probes.ts';

const SLACK_MS = 500;
const agents = createProbeAgents();
const deps: ProbeDeps = { runtime: new FakeRuntime(), scriptDir: '/nonexistent', agents };
const target: ProbeTarget = { containerId: 'c1', name: 'web.1', address: '127.0.0.1', readFile: async () => Buffer.alloc(0) };
const servers: net.Server[] = [];

function probe(over: Partial<ProbeSpec>): ProbeSpec {
  return { intervalMs: 1000, timeoutMs: 1000, initialDelayMs: 0, failureThreshold: 3, successThreshold: 1, ...over };
}

function httpProbe(port: number, over: Partial<NonNullable<ProbeSpec['http']>> = {}, timeoutMs = 1000): ProbeSpec {
  return probe({ http: { path: '/', port, scheme: 'http', headers: {}, ...over }, timeoutMs });
}

/** A keep-alive server on 127.0.0.1 answering with `handler`; counts the connections it accepted. */
async function serve(handler: http.RequestListener, server: http.Server = http.createServer({ keepAliveTimeout: 30_000 }, handler)): Promise<{ port: number; connections: () => number; server: http.Server }> {
  let connections = 0;
  server.on('connection', () => { connections += 1; });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  servers.push(server);
  return { port: (server.address() as net.AddressInfo).port, connections: () => connections, server };
}

/** A port nothing listens on (bound, then closed). */
async function closedPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise((resolve) => s.close(resolve));
  return port;
}

afterEach(async () => {
  for (const s of servers.splice(0)) {
    (s as http.Server).closeAllConnections?.();
    await new Promise((resolve) => s.close(resolve));
  }
});

afterAll(() => agents.destroy());

describe('http probe', () => {
  it('passes on 2xx/3xx, fails on others with the status, honours expectStatus and sends the headers', async () => {
    const seen: http.IncomingHttpHeaders[] = [];
    const { port } = await serve((req, res) => {
      seen.push(req.headers);
      res.statusCode = Number(req.url?.slice(1)) || 200;
      res.end('body');
    });
    expect(await runProbe(httpProbe(port, { path: '/204', headers: { 'X-Probe': 'yes' } }), target, deps)).toMatchObject({ ok: true, message: 'HTTP 204' });
    expect(seen[0]).toMatchObject({ 'x-probe': 'yes', 'user-agent': 'berth-probe' });
    expect(await runProbe(httpProbe(port, { path: '/302' }), target, deps)).toMatchObject({ ok: true, message: 'HTTP 302' });
    expect(await runProbe(httpProbe(port, { path: '/500' }), target, deps)).toMatchObject({ ok: false, message: 'HTTP 500' });
    expect(await runProbe(httpProbe(port, { path: '/404' }), target, deps)).toMatchObject({ ok: false, message: 'HTTP 404' });
    expect(await runProbe(httpProbe(port, { path: '/404', expectStatus: [404] }), target, deps)).toMatchObject({ ok: true, message: 'HTTP 404' });
    expect(await runProbe(httpProbe(port, { path: '/200', expectStatus: [204] }), target, deps)).toMatchObject({ ok: false, message: 'HTTP 200' });
  });

  it('reuses one keep-alive connection across probes', async () => {
    const { port, connections } = await serve((_req, res) => res.end('ok'));
    for (let i = 0; i < 5; i++) expect((await runProbe(httpProbe(port), target, deps)).ok).toBe(true);
    expect(connections()).toBe(1);
  });

  it('detects a closed port on the very next probe, even with a pooled connection whose close is not yet seen', async () => {
    const { port, server } = await serve((_req, res) => res.end('ok'));
    expect((await runProbe(httpProbe(port), target, deps)).ok).toBe(true);
    server.close();
    server.closeAllConnections();
    // Same tick: the client has not read the FIN yet, so the pooled socket is tried first.
    expect(await runProbe(httpProbe(port), target, deps)).toMatchObject({ ok: false, message: `connect ECONNREFUSED 127.0.0.1:${port}` });
  });

  it('times out a server that never answers, within the timeout plus slack', async () => {
    await serve(() => undefined);
    const { port } = servers.at(-1)!.address() as net.AddressInfo;
    const outcome = await runProbe(httpProbe(port, {}, 300), target, deps);
    expect(outcome).toMatchObject({ ok: false, message: 'timeout after 300 ms' });
    expect(outcome.ms).toBeGreaterThanOrEqual(290);
    expect(outcome.ms).toBeLessThan(300 + SLACK_MS);
  });

  it('does not read a huge body: answers on the status and drops the connection', async () => {
    let closed = false;
    const { port } = await serve((req, res) => {
      req.socket.on('close', () => { closed = true; });
      res.writeHead(200, { 'content-length': String(100 * 1024 * 1024) });
      const chunk = Buffer.alloc(64 * 1024);
      const pump = (): void => { while (!res.destroyed && res.write(chunk)); if (!res.destroyed) res.once('drain', pump); };
      pump();
    });
    const outcome = await runProbe(httpProbe(port, {}, 5000), target, deps);
    expect(outcome).toMatchObject({ ok: true, message: 'HTTP 200' });
    await waitFor(() => closed, { timeoutMs: 5000, what: 'the probe to drop a connection with a huge body' });
  });

  it('accepts a self-signed certificate over https', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'berth-probe-tls-'));
    try {
      await promisify(execFile)('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=replica',
        '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')]);
      const tls = { key: await readFile(join(dir, 'key.pem')), cert: await readFile(join(dir, 'cert.pem')) };
      const { port } = await serve((_req, res) => res.end('ok'), https.createServer(tls, (_req, res) => res.end('ok')));
      expect(await runProbe(httpProbe(port, { scheme: 'https' }), target, deps)).toMatchObject({ ok: true, message: 'HTTP 200' });
      expect(await runProbe(httpProbe(port, { scheme: 'https' }), target, { ...deps, agents: undefined })).toMatchObject({ ok: true, message: 'HTTP 200' });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('reports a refused connection and works without agents', async () => {
    const port = await closedPort();
    expect(await runProbe(httpProbe(port), target, deps)).toMatchObject({ ok: false, message: `connect ECONNREFUSED 127.0.0.1:${port}` });
    const { port: open } = await serve((_req, res) => res.end('ok'));
    expect(await runProbe(httpProbe(open), target, { runtime: deps.runtime, scriptDir: deps.scriptDir })).toMatchObject({ ok: true });
  });
});

describe('tcp probe', () => {
  it('passes on an open port and fails on a closed one', async () => {
    const { port } = await serve((_req, res) => res.end());
    expect(await runProbe(probe({ tcp: { port } }), target, deps)).toMatchObject({ ok: true, message: `TCP ${port} open` });
    const closed = await closedPort();
    expect(await runProbe(probe({ tcp: { port: closed } }), target, deps)).toMatchObject({ ok: false, message: `connect ECONNREFUSED 127.0.0.1:${closed}` });
  });
});

describe('probes without an address', () => {
  it('fail cleanly for http and tcp', async () => {
    const bare = { containerId: 'c1', name: 'web.1', readFile: target.readFile };
    for (const p of [httpProbe(80), probe({ tcp: { port: 80 } })]) {
      expect(await runProbe(p, bare, deps)).toMatchObject({ ok: false, message: 'no address for container' });
    }
    expect(await runProbe(probe({}), target, deps)).toMatchObject({ ok: false, message: 'probe has none of http, tcp, exec, script' });
  });
});
