import fs from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ProxyManager } from '../proxy/proxies.ts';
import { Registry } from '../registry/registry.ts';
import { silentLogger } from '../util/log.ts';
import { freePort } from '../../test/helpers/net.ts';
import { DataplaneMirror } from './mirror.ts';
import type { DataplaneConfig } from './protocol.ts';

const closers: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
});

async function mirror(file: string) {
  const registry = new Registry();
  const proxies = new ProxyManager({ registry, defaultHost: '127.0.0.1', log: silentLogger });
  closers.push(() => proxies.close());
  return { registry, proxies, mirror: new DataplaneMirror(registry, proxies, file, silentLogger) };
}

function config(port: number, upstream: number, ids: string[]): DataplaneConfig {
  return {
    services: [{ key: 'ns/echo', spec: { loadBalancer: { algorithm: 'round-robin', protocol: 'tcp', publish: { port } } } as never }],
    routes: [],
    endpoints: { 'ns/echo': ids.map((id) => ({ id, address: '127.0.0.1', port: upstream, weight: 1, ready: true })), 'ns/gone': [] },
  };
}

describe('DataplaneMirror', () => {
  it('applies a configuration, persists it, and a new mirror serves it from the file before anyone talks to it', async () => {
    const echo = net.createServer((s) => s.pipe(s));
    await new Promise<void>((r) => echo.listen(0, '127.0.0.1', r));
    closers.push(() => new Promise((r) => echo.close(r)));
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'berth-mirror-'));
    closers.push(() => fs.rm(dir, { recursive: true, force: true }));
    const file = path.join(dir, 'proxy-t.json');
    const port = await freePort();
    const first = await mirror(file);
    await first.mirror.apply(config(port, (echo.address() as net.AddressInfo).port, ['a', 'b']));
    expect(first.registry.ready('ns/echo').map((e) => e.id)).toEqual(['a', 'b']);
    await first.mirror.apply(config(port, (echo.address() as net.AddressInfo).port, ['b']));
    expect(first.registry.services().map((s) => s.name)).toEqual(['ns/echo', 'ns/gone']);
    expect((await fs.stat(file)).mode & 0o777).toBe(0o600);
    await first.proxies.close();

    const second = await mirror(file);
    expect(await second.mirror.load()).toBe(true);
    expect(second.registry.ready('ns/echo').map((e) => e.id)).toEqual(['b']);
    expect(second.proxies.list()).toEqual([expect.objectContaining({ address: `127.0.0.1:${port}`, backends: { 'ns/echo': 1 } })]);
    const answer = await new Promise<string>((resolve, reject) => {
      const s = net.connect(port, '127.0.0.1', () => s.write('hi'));
      s.once('data', (d) => { resolve(String(d)); s.destroy(); }).once('error', reject);
    });
    expect(answer).toBe('hi');
  });

  it('opens a listener whose port was taken once the port is free, without a new configuration', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'berth-mirror-'));
    closers.push(() => fs.rm(dir, { recursive: true, force: true }));
    const port = await freePort();
    const holder = net.createServer();
    await new Promise<void>((r) => holder.listen(port, '127.0.0.1', r));
    const m = await mirror(path.join(dir, 'proxy-t.json'));
    await m.mirror.apply(config(port, 9, ['a']));
    expect(m.proxies.list()).toEqual([expect.objectContaining({ error: expect.stringContaining('EADDRINUSE') })]);
    await new Promise((r) => holder.close(r));
    await m.mirror.retryFailed();
    expect(m.proxies.list()).toEqual([expect.not.objectContaining({ error: expect.anything() })]);
  });

  it('ignores a missing or damaged file', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'berth-mirror-'));
    closers.push(() => fs.rm(dir, { recursive: true, force: true }));
    const file = path.join(dir, 'proxy-t.json');
    expect(await (await mirror(file)).mirror.load()).toBe(false);
    await fs.writeFile(file, '{"services": [');
    expect(await (await mirror(file)).mirror.load()).toBe(false);
    await fs.writeFile(file, '{"services": 3}');
    expect(await (await mirror(file)).mirror.load()).toBe(false);
  });

  it('keeps external endpoints apart, so a ports[].publish listener leaves them out', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'berth-mirror-'));
    closers.push(() => fs.rm(dir, { recursive: true, force: true }));
    // tcp servers that answer their name; the external one on 127.0.0.2, where the second port would be refused
    const [first, second, external] = await Promise.all([['first', '127.0.0.1'], ['second', '127.0.0.1'], ['external', '127.0.0.2']].map(async (pair) => {
      const [name, host] = pair as [string, string];
      const server = net.createServer((s) => s.end(name));
      await new Promise<void>((r) => server.listen(0, host, r));
      closers.push(() => new Promise((r) => server.close(r)));
      return (server.address() as net.AddressInfo).port;
    })) as [number, number, number];
    const m = await mirror(path.join(dir, 'proxy-t.json'));
    const [main, extra] = [await freePort(), await freePort()];
    await m.mirror.apply({
      services: [{ key: 'ns/echo', spec: { loadBalancer: { algorithm: 'round-robin', protocol: 'tcp', targetPort: first, weight: 1, publish: { port: main } }, ports: [{ port: second, protocol: 'tcp', publish: { port: extra } }] } }],
      routes: [],
      endpoints: { 'ns/echo': [{ id: 'r', address: '127.0.0.1', port: first, weight: 1, ready: true }, { id: 'x', address: '127.0.0.2', port: external, weight: 1, ready: true, external: true }] },
    });
    const read = (port: number): Promise<string> => new Promise((resolve, reject) => {
      let text = '';
      net.connect(port, '127.0.0.1').on('data', (d) => { text += String(d); }).on('end', () => resolve(text)).on('error', reject);
    });
    const answers = async (port: number): Promise<Set<string>> => {
      const out = new Set<string>();
      for (let i = 0; i < 4; i++) out.add(await read(port));
      return out;
    };
    expect(await answers(main)).toEqual(new Set(['first', 'external']));
    expect(await answers(extra)).toEqual(new Set(['second']));
    expect(m.proxies.list().find((l) => l.address === `127.0.0.1:${extra}`)!.stats).toMatchObject({ total: 4, failedConnects: 0 });
  });
});
