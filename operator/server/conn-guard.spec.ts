import { EventEmitter } from 'node:events';
import type net from 'node:net';
import { describe, expect, it } from 'vitest';
import { ClientSlots } from './client-slots.ts';
import { ConnectionGuard } from './conn-guard.ts';

/** A socket stand-in: an address, destroy() and a close event. */
function sock(remoteAddress: string) {
  const s = Object.assign(new EventEmitter(), { remoteAddress, destroyed: false, destroy() { s.destroyed = true; s.emit('close'); } });
  return s as unknown as net.Socket & { destroyed: boolean };
}

describe('ClientSlots', () => {
  it('bounds the total and each client, and forgets a client holding nothing', () => {
    const slots = new ClientSlots(3, 2);
    expect([slots.acquire('a'), slots.acquire('a'), slots.acquire('a')]).toEqual([null, null, 'client-full']);
    expect([slots.acquire('b'), slots.acquire('c')]).toEqual([null, 'full']);
    slots.release('a');
    slots.release('zzz'); // holds nothing: ignored
    expect(slots.inUse).toBe(2);
    slots.release('a');
    slots.release('b');
    expect([slots.inUse, slots.clients]).toEqual([0, 0]);
  });
});

describe('ConnectionGuard', () => {
  it('shares one budget between listeners; a reserve stays for its listener', () => {
    const guard = new ConnectionGuard({ maxConnections: 10, maxPerClient: 100 });
    const api = guard.gate('api', { reserve: 4 });
    const proxy = guard.gate('proxy');
    const proxied = Array.from({ length: 8 }, (_, i) => sock(`10.0.0.${i}`));
    expect(proxied.map((s) => proxy.admit(s))).toEqual([true, true, true, true, true, true, false, false]);
    expect(proxied[6]!.destroyed).toBe(true);
    const apiConns = Array.from({ length: 5 }, (_, i) => sock(`10.0.1.${i}`));
    expect(apiConns.map((s) => api.admit(s))).toEqual([true, true, true, true, false]);
    expect(guard.stats().open).toBe(10);
    proxied[0]!.destroy();
    expect(api.admit(sock('10.0.1.9'))).toBe(true); // beyond its reserve, from the shared part
    expect(proxy.stats().refused.total).toBe(2);
  });

  it('bounds a listener and each client address on it; closes give slots back', () => {
    const guard = new ConnectionGuard({ maxConnections: 100, maxPerClient: 2 });
    const gate = guard.gate('x', { max: 3 });
    const a = [sock('a'), sock('a'), sock('a')];
    expect(a.map((s) => gate.admit(s))).toEqual([true, true, false]);
    expect([gate.admit(sock('b')), gate.admit(sock('c'))]).toEqual([true, false]);
    expect(gate.stats().refused).toEqual({ total: 0, listener: 1, client: 1 });
    a[0]!.destroy();
    expect(gate.admit(sock('c'))).toBe(true);
    expect(guard.stats().open).toBe(3);
  });

  it('gives a disposed listener\'s reserve back to the others', () => {
    const guard = new ConnectionGuard({ maxConnections: 4, maxPerClient: 10 });
    const api = guard.gate('api', { reserve: 3 });
    const proxy = guard.gate('proxy');
    expect([proxy.admit(sock('p')), proxy.admit(sock('p'))]).toEqual([true, false]);
    api.dispose();
    expect(proxy.admit(sock('p'))).toBe(true);
    expect(guard.stats().listeners.map((l) => l.name)).toEqual(['proxy']);
  });
});
