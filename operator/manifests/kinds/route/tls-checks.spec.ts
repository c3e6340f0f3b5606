import { describe, expect, it } from 'vitest';
import { ValidationError, type ManifestIssue } from '../../../model/errors.ts';
import type { DesiredState } from '../../../model/state.ts';
import { memorySnapshot } from '../../../source/memory-source.ts';
import { routerTls } from '../../../proxy/route-tls.ts';
import { loadDesired } from '../../load.ts';
import { ruleCovers } from './tls-checks.ts';

const ALLOW = ['/etc/berth/tls'];

const services = `apiVersion: berth/v1
kind: Service
metadata: { name: web, namespace: shop }
spec: { image: web:1, ports: [{ port: 8080 }] }
`;

/** A Route of namespace shop routing `hosts` to web; `extra` is appended to its spec (two-space indented). */
const route = (name: string, port: number, hosts: string[], extra = ''): string => `apiVersion: berth/v1
kind: Route
metadata: { name: ${name}, namespace: shop }
spec:
  publish: { port: ${port}, host: 127.0.0.1 }
  rules:
${hosts.map((h) => `    - { host: ${JSON.stringify(h)}, backends: [{ service: web }] }`).join('\n')}
${extra}`;

const tls = (hosts: string[], file = 'shop'): string => `    - hosts: [${hosts.map((h) => JSON.stringify(h)).join(', ')}]
      cert: /etc/berth/tls/${file}.crt
      key: /etc/berth/tls/${file}.key
`;

async function load(files: Record<string, string>, allowHostPaths: string[] = ALLOW): Promise<DesiredState | ManifestIssue[]> {
  try {
    return await loadDesired(memorySnapshot({ 'svc.yaml': services, ...files }, 'r1'), { instance: 'i', path: '', allowHostPaths });
  } catch (err) {
    if (err instanceof ValidationError) return err.issues;
    throw err;
  }
}

async function issues(files: Record<string, string>, allow?: string[]): Promise<[string, number, string, string][]> {
  const out = await load(files, allow);
  if (!Array.isArray(out)) throw new Error('expected issues, the revision loaded');
  return out.map((i) => [i.file, i.line, i.field ?? '', i.message]);
}

describe('Route tls and redirectToHttps', () => {
  it('types tls and the redirect (listening on the publish host by default) and hands them to the listener', async () => {
    const d = (await load({ 'r.yaml': route('shop', 8443, ['shop.example.com', 'api.example.com'], `  tls:\n${tls(['shop.example.com'])}${tls(['*.example.com'], 'wild')}  redirectToHttps: { port: 8080 }\n`) })) as DesiredState;
    const spec = d.routes[0]!.spec;
    expect(spec.tls).toEqual([
      { hosts: ['shop.example.com'], cert: '/etc/berth/tls/shop.crt', key: '/etc/berth/tls/shop.key' },
      { hosts: ['*.example.com'], cert: '/etc/berth/tls/wild.crt', key: '/etc/berth/tls/wild.key' },
    ]);
    expect(spec.redirectToHttps).toEqual({ port: 8080, host: '127.0.0.1' });
    expect(routerTls(d.routes, '0.0.0.0')).toEqual({ certificates: spec.tls, redirect: { host: '127.0.0.1', port: 8080 } });
    const plain = (await load({ 'r.yaml': route('shop', 8000, ['shop.example.com']) })) as DesiredState;
    expect(Object.keys(plain.routes[0]!.spec)).toEqual(['publish', 'rules']);
    expect(routerTls(plain.routes, '0.0.0.0')).toBeUndefined();
  });

  it('reads certificate files only under an --allow-host-path prefix, at spec.tls[i].cert / .key', async () => {
    const r = { 'r.yaml': route('shop', 8443, ['shop.example.com'], `  tls:\n${tls(['shop.example.com'])}`) };
    const none = await issues(r, []);
    expect(none.map(([f, l, field]) => [f, l, field])).toEqual([['r.yaml', 10, 'spec.tls[0].cert'], ['r.yaml', 11, 'spec.tls[0].key']]);
    expect(none[0]![3]).toContain('"/etc/berth/tls/shop.crt"');
    expect(none[0]![3]).toContain('--allow-host-path (none is set)');
    expect(await issues(r, ['/etc/berth/tlsx'])).toHaveLength(2);
    const escape = route('shop', 8443, ['shop.example.com'], '  tls:\n    - { hosts: [shop.example.com], cert: /etc/berth/tls/../../shadow, key: /etc/berth/tls/k }\n');
    expect(await issues({ 'r.yaml': escape })).toEqual([['r.yaml', 9, 'spec.tls[0].cert', expect.stringContaining('".." segments')]]);
    const relative = route('shop', 8443, ['shop.example.com'], '  tls:\n    - { hosts: [shop.example.com], cert: shop.crt, key: /etc/berth/tls/k }\n');
    expect(await issues({ 'r.yaml': relative })).toEqual([['r.yaml', 9, 'spec.tls[0].cert', expect.stringContaining('absolute path')]]);
  });

  it('needs every tls host to be routed by one of the Route\'s rules', async () => {
    const r = route('shop', 8443, ['shop.example.com', '*.api.example.com'], `  tls:\n${tls(['shop.example.com', 'x.api.example.com', 'blog.example.com'])}`);
    expect(await issues({ 'r.yaml': r })).toEqual([
      ['r.yaml', 10, 'spec.tls[0].hosts[2]', 'tls host blog.example.com is not routed by this Route (its rule hosts: shop.example.com, *.api.example.com); add a rule for it or remove it'],
    ]);
    expect(ruleCovers(undefined, 'a.test')).toBe(true);
    expect(ruleCovers('*.example.com', 'a.b.example.com')).toBe(true);
    expect(ruleCovers('shop.example.com', '*.example.com')).toBe(true);
    expect(ruleCovers('*.example.com', 'example.com')).toBe(false);
    expect(ruleCovers('shop.example.com', 'shop.example.org')).toBe(false);
  });

  it('refuses a port with both TLS and plain Routes, naming both', async () => {
    const found = await issues({
      'a.yaml': route('secure', 8443, ['shop.example.com'], `  tls:\n${tls(['shop.example.com'])}`),
      'b.yaml': route('plain', 8443, ['blog.example.com']),
    });
    expect(found).toEqual([['b.yaml', 5, 'spec.publish', expect.stringContaining('port 8443 mixes HTTPS and plain HTTP: Route shop/secure at a.yaml:9 has tls, this Route shop/plain has none')]]);
  });

  it('refuses two certificates for one host on one port, and accepts the same files twice', async () => {
    const found = await issues({
      'a.yaml': route('a', 8443, ['shop.example.com'], `  tls:\n${tls(['shop.example.com'])}`),
      'b.yaml': route('b', 8443, ['*.example.com'], `  tls:\n${tls(['shop.example.com'], 'other')}`),
    });
    expect(found).toEqual([['b.yaml', 9, 'spec.tls[0].hosts[0]', expect.stringContaining('host shop.example.com on port 8443 gets two certificates: cert /etc/berth/tls/other.crt, key /etc/berth/tls/other.key here, cert /etc/berth/tls/shop.crt, key /etc/berth/tls/shop.key from Route shop/a at a.yaml:9')]]);
    const d = (await load({
      'a.yaml': route('a', 8443, ['shop.example.com'], `  tls:\n${tls(['shop.example.com'])}`),
      'b.yaml': route('b', 8443, ['*.example.com'], `  tls:\n${tls(['shop.example.com', '*.example.com'])}`),
    })) as DesiredState;
    expect(routerTls(d.routes, '0.0.0.0')?.certificates).toEqual([{ hosts: ['shop.example.com', '*.example.com'], cert: '/etc/berth/tls/shop.crt', key: '/etc/berth/tls/shop.key' }]);
  });

  it('checks redirectToHttps: needs tls, a port of its own, not published by anything else', async () => {
    expect(await issues({ 'r.yaml': route('r', 8443, ['shop.example.com'], '  redirectToHttps: { port: 8080 }\n') }))
      .toEqual([['r.yaml', 8, 'spec.redirectToHttps', expect.stringContaining('redirectToHttps needs spec.tls')]]);
    const own = route('r', 8443, ['shop.example.com'], `  tls:\n${tls(['shop.example.com'])}  redirectToHttps: { port: 8443 }\n`);
    expect(await issues({ 'r.yaml': own })).toEqual([['r.yaml', 12, 'spec.redirectToHttps.port', expect.stringContaining('needs a port of its own')]]);
    const taken = route('r', 8443, ['shop.example.com'], `  tls:\n${tls(['shop.example.com'])}  redirectToHttps: { port: 8000 }\n`);
    expect(await issues({ 'r.yaml': taken, 'p.yaml': route('plain', 8000, ['blog.example.com']) }))
      .toEqual([['r.yaml', 12, 'spec.redirectToHttps.port', 'redirectToHttps.port 8000 is also published by Route shop/plain at p.yaml:5']]);
    const a = route('a', 8443, ['shop.example.com'], `  tls:\n${tls(['shop.example.com'])}  redirectToHttps: { port: 8080 }\n`);
    const b = route('b', 8443, ['blog.example.com'], `  tls:\n${tls(['blog.example.com'], 'blog')}  redirectToHttps: { port: 8081 }\n`);
    expect(await issues({ 'a.yaml': a, 'b.yaml': b })).toEqual([['b.yaml', 12, 'spec.redirectToHttps.port', expect.stringContaining('Routes sharing port 8443 redirect from different listeners: 127.0.0.1 port 8081 here, 127.0.0.1 port 8080 for Route shop/a at a.yaml:12')]]);
    const other = route('c', 9443, ['blog.example.com'], `  tls:\n${tls(['blog.example.com'], 'blog')}  redirectToHttps: { port: 8080 }\n`);
    expect(await issues({ 'a.yaml': a, 'c.yaml': other })).toEqual([['c.yaml', 12, 'spec.redirectToHttps.port', expect.stringContaining('already redirects to port 8443 for Route shop/a at a.yaml:12')]]);
    const same = route('b', 8443, ['blog.example.com'], `  tls:\n${tls(['blog.example.com'], 'blog')}  redirectToHttps: { port: 8080 }\n`);
    expect(Array.isArray(await load({ 'a.yaml': a, 'b.yaml': same }))).toBe(false);
  });
});
