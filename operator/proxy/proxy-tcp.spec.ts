import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { BerthError } from '../model/errors.ts';
import { ConnectionGuard } from '../server/conn-guard.ts';
import { deadPort, startEcho, tcpRoundTrip, type Backend } from '../../test/doubles/proxy-fixtures.ts';
import { waitFor } from '../../test/helpers/docker.ts';
import type { Endpoint } from './lb/types.ts';
import { startProxy, type Proxy } from './proxy.ts';

/** The proxy specs poll fast: every 5 ms, for at most 5 s. */
const POLL = { timeoutMs: 5_000, intervalMs: 5 };

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function echoes(n: number): Promise<Backend[]> {
  const list = await Promise.all(Array.from({ length: n }, (_, i) => startEcho(`e${i}`)));
  for (const b of list) cleanups.push(() => b.close());
  return list;
}

async function proxyTo(endpoints: Endpoint[], extra: Partial<Parameters<typeof startProxy>[0]> = {}): Promise<Proxy> {
  const p = await startProxy({ host: '127.0.0.1', port: 0, algorithm: 'round-robin', mode: 'tcp', endpoints, ...extra });
  cleanups.push(() => p.close());
  return p;
}

const ep = (b: Backend): Endpoint => ({ id: b.name, address: b.address, weight: 1 });

describe('proxy, tcp mode', () => {
  it('distributes connections round-robin across 3 echo servers', async () => {
    const bs = await echoes(3);
    const p = await proxyTo(bs.map(ep));
    const seen: string[] = [];
    for (let i = 0; i < 9; i++) seen.push((await tcpRoundTrip(p.port, `m${i}`)).split(':')[0]!);
    expect(seen).toEqual(['e0', 'e1', 'e2', 'e0', 'e1', 'e2', 'e0', 'e1', 'e2']);
    await waitFor(() => p.stats().active === 0, { ...POLL, what: 'connections to close' });
    expect(p.stats()).toEqual({ active: 0, total: 9, failedConnects: 0 });
  });

  it('skips a dead endpoint with no failed client connection', async () => {
    const bs = await echoes(2);
    const dead: Endpoint = { id: 'dead', address: `127.0.0.1:${await deadPort()}`, weight: 1 };
    const p = await proxyTo([dead, ep(bs[0]!), ep(bs[1]!)]);
    const answers = [];
    for (let i = 0; i < 6; i++) answers.push(await tcpRoundTrip(p.port, `m${i}`));
    expect(answers.every((a, i) => a.endsWith(`:m${i}`))).toBe(true);
    expect(p.stats().failedConnects).toBeGreaterThanOrEqual(1);
    expect(bs[0]!.hits + bs[1]!.hits).toBe(6);
  });

  it('closes the client when no endpoint accepts', async () => {
    const p = await proxyTo([{ id: 'dead', address: `127.0.0.1:${await deadPort()}`, weight: 1 }]);
    await expect(tcpRoundTrip(p.port)).rejects.toThrow();
    expect(p.stats().failedConnects).toBe(1);
  });

  it('drains a removed endpoint: its open connection keeps working, new ones go elsewhere', async () => {
    const [a, b] = await echoes(2);
    const p = await proxyTo([ep(a!), ep(b!)]);
    const open = net.connect(p.port, '127.0.0.1');
    cleanups.push(async () => void open.destroy());
    const lines: string[] = [];
    open.on('data', (d) => lines.push(d.toString()));
    open.write('before\n');
    await waitFor(() => lines.join('') === 'e0:before\n', { ...POLL, what: 'first echo on the open connection' });
    p.update([ep(b!)]);
    for (let i = 0; i < 3; i++) expect(await tcpRoundTrip(p.port, `n${i}`)).toBe(`e1:n${i}`);
    open.write('after\n');
    await waitFor(() => lines.join('') === 'e0:before\ne0:after\n', { ...POLL, what: 'echo from the drained endpoint' });
    expect(a!.hits).toBe(1);
  });

  it('passes a half-close through: the answer still arrives after the client ends its side', async () => {
    const [a] = await echoes(1);
    const p = await proxyTo([ep(a!)]);
    const got = await new Promise<string>((resolve, reject) => {
      const s = net.connect({ port: p.port, host: '127.0.0.1', allowHalfOpen: true });
      let buf = '';
      s.on('data', (d) => (buf += d.toString()));
      s.on('end', () => resolve(buf));
      s.on('error', reject);
      s.end('bye\n');
    });
    expect(got).toBe('e0:bye\n');
  });

  it('rejects a header hash key on a TCP listener with E_CONFIG', async () => {
    const err = await startProxy({ host: '127.0.0.1', port: 0, algorithm: 'consistent-hash', mode: 'tcp', hashKey: 'header:X-User', endpoints: [] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BerthError);
    expect((err as BerthError).code).toBe('E_CONFIG');
  });

  it('closes a connection idle in both directions after idleTimeoutMs; traffic either way keeps it open', async () => {
    const [a] = await echoes(1);
    const p = await proxyTo([ep(a!)], { idleTimeoutMs: 300 });
    const busy = net.connect(p.port, '127.0.0.1');
    const quiet = net.connect(p.port, '127.0.0.1');
    cleanups.push(async () => { busy.destroy(); quiet.destroy(); });
    quiet.on('error', () => {}).resume().write('hello\n');
    busy.on('error', () => {}).resume();
    const beat = setInterval(() => busy.write('beat\n'), 100);
    const t0 = Date.now();
    await new Promise((resolve) => quiet.once('close', resolve));
    expect(Date.now() - t0).toBeGreaterThanOrEqual(250);
    await new Promise((r) => setTimeout(r, 500));
    expect(busy.destroyed).toBe(false);
    clearInterval(beat);
    await new Promise((resolve) => busy.once('close', resolve));
    await waitFor(() => p.stats().active === 0 && p.openTo(a!.address) === 0, { ...POLL, what: 'upstream sockets released' });
  });

  it('closes connections over its gate at once, before dialling an upstream; the admitted ones are served', async () => {
    const [a] = await echoes(1);
    const guard = new ConnectionGuard({ maxConnections: 3, maxPerClient: 2 });
    const p = await proxyTo([ep(a!)], { gate: guard.gate('tcp') });
    const outcome = (localAddress: string) => new Promise<{ s: net.Socket; served: boolean }>((resolve) => {
      const s = net.connect({ port: p.port, host: '127.0.0.1', localAddress });
      cleanups.push(async () => void s.destroy());
      s.on('error', () => {});
      s.once('data', () => resolve({ s, served: true }));
      s.once('close', () => resolve({ s, served: false }));
      s.write('x\n');
    });
    const results = [await outcome('127.0.0.2'), await outcome('127.0.0.2'), await outcome('127.0.0.2'), await outcome('127.0.0.3'), await outcome('127.0.0.4')];
    expect(results.map((r) => r.served)).toEqual([true, true, false, true, false]);
    expect(a!.hits).toBe(3);
    expect(guard.stats().listeners[0]).toMatchObject({ open: 3, refused: { client: 1, total: 1, listener: 0 } });
    results[0]!.s.destroy();
    await waitFor(() => guard.stats().open === 2, { ...POLL, what: 'slot given back' });
    expect((await outcome('127.0.0.4')).served).toBe(true);
    await p.close();
    expect(guard.stats().listeners).toEqual([]);
  });
});
