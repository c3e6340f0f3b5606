/**
 * A TLS Route through a real operator and real containers: the certificate files come from an --allow-host-path
 * directory, the listener answers HTTPS with the certificate of the SNI name and forwards to the Service's replica,
 * and the redirect listener sends plain HTTP to it with a 301.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import https from 'node:https';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeRemote, type Remote } from './helpers/git.ts';
import { cleanupInstance, testDocker, uniqueInstance, waitFor } from './helpers/docker.ts';
import { freePort } from './helpers/net.ts';
import { startTestOperator, type TestOperator } from './helpers/operator.ts';
import { makeHostCert, makeRouteCa, type HostCert } from './helpers/route-certs.ts';

const docker = testDocker();
const instance = uniqueInstance('rtls');
let dir: string;
let ca: Buffer;
let shop: HostCert;
let blog: HostCert;
let remote: Remote;
let op: TestOperator;
let tlsPort: number;
let redirectPort: number;

/** A busybox httpd answering "web" (X-Forwarded-Proto is checked by router-tls.spec.ts: busybox CGI does not see it). */
const service = `apiVersion: berth/v1
kind: Service
metadata: { name: web, namespace: rt }
spec:
  image: berth-local/busybox:1
  command: [sh, -c, "mkdir -p /www && echo web > /www/index.html && echo ok > /www/healthz && exec httpd -f -p 8080 -h /www"]
  replicas: 1
  ports: [{ name: http, port: 8080 }]
  health:
    readiness: { http: { path: /healthz, port: 8080 }, interval: 200ms, timeout: 200ms, failureThreshold: 1 }
`;

const route = (): string => `apiVersion: berth/v1
kind: Route
metadata: { name: shop, namespace: rt }
spec:
  publish: { port: ${tlsPort}, host: 127.0.0.1 }
  rules:
    - { host: shop.example.com, backends: [{ service: web }] }
    - { host: blog.example.com, backends: [{ service: web }] }
  tls:
    - { hosts: [shop.example.com], cert: ${shop.cert}, key: ${shop.key} }
    - { hosts: [blog.example.com], cert: ${blog.cert}, key: ${blog.key} }
  redirectToHttps: { port: ${redirectPort} }
`;

function get(host: string, urlPath: string): Promise<{ status: number; body: string; fingerprint: string }> {
  return new Promise((resolve, reject) => {
    const req = https.get({ host: '127.0.0.1', port: tlsPort, path: urlPath, servername: host, headers: { host }, ca, agent: false, timeout: 5_000 }, (res) => {
      const fingerprint = (res.socket as import('node:tls').TLSSocket).getPeerCertificate().fingerprint256;
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, fingerprint }));
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
  });
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'berth-rtls-'));
  ca = await readFile(await makeRouteCa(dir));
  shop = await makeHostCert(dir, 'shop', ['shop.example.com']);
  blog = await makeHostCert(dir, 'blog', ['blog.example.com']);
  [tlsPort, redirectPort] = await Promise.all([freePort(), freePort()]);
  remote = await makeRemote({ 'web.yaml': service, 'route.yaml': route() });
  op = await startTestOperator(remote.url, instance, { 'allow-host-path': [dir] });
}, 120_000);

afterAll(async () => {
  await op?.stop();
  await remote?.close();
  await cleanupInstance(docker, instance);
  await rm(dir, { recursive: true, force: true });
}, 60_000);

describe('a TLS Route through the operator', () => {
  it('serves each host with its certificate, forwards to the replica, redirects plain HTTP', async () => {
    const a = await waitFor(async () => {
      const r = await get('shop.example.com', '/').catch(() => undefined);
      return r?.status === 200 ? r : undefined;
    }, { what: 'the TLS route serving', timeoutMs: 60_000, intervalMs: 200 });
    expect(a.body).toBe('web\n');
    expect(a.fingerprint).toBe(shop.fingerprint);
    expect((await get('blog.example.com', '/')).fingerprint).toBe(blog.fingerprint);

    const answer = await new Promise<string>((resolve, reject) => {
      const s = net.connect(redirectPort, '127.0.0.1');
      let buf = '';
      s.on('data', (d) => (buf += d.toString()));
      s.on('end', () => resolve(buf));
      s.on('error', reject);
      s.write('GET /cart?x=1 HTTP/1.1\r\nHost: blog.example.com\r\nConnection: close\r\n\r\n');
    });
    expect(answer).toMatch(/^HTTP\/1\.1 301 /);
    expect(answer).toContain(`\r\nlocation: https://blog.example.com:${tlsPort}/cart?x=1\r\n`);
  }, 90_000);
});
