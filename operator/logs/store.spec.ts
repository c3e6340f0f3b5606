import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { compileGrep, isoMicros, LogStore, searchQuery, type LogSource } from './store.ts';

const T0 = Date.parse('2026-12-01T10:00:00.000Z') * 1000; // µs
const src = (id: string, replica = '1', service = 'web'): LogSource => ({ containerId: id, namespace: 'shop', service, kind: 'Service', replica, container: `berth.t.shop.${service}.${replica}`, node: 'local' });
let dir: string;
let store: LogStore;

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-logstore-'));
  store = LogStore.open(path.join(dir, 'logs.db'), { retentionMs: 7 * 86_400_000, maxBytes: 1 << 30 });
});
afterEach(() => {
  store.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('LogStore', () => {
  it('stores lines with their source and answers by service, replica, stream, time, tail, grep and search', () => {
    store.append(src('a', '1'), [{ ts: T0, stream: 'stdout', text: 'GET /cart 200' }, { ts: T0 + 20, stream: 'stderr', text: 'warn: slow cart' }]);
    store.append(src('b', '2'), [{ ts: T0 + 10, stream: 'stdout', text: 'GET /checkout 500' }]);
    store.append(src('c', '1', 'db'), [{ ts: T0 + 5, stream: 'stdout', text: 'ready' }]);
    const web = store.query({ namespace: 'shop', service: 'web' });
    expect(web.map((l) => [l.replica, l.text])).toEqual([['1', 'GET /cart 200'], ['2', 'GET /checkout 500'], ['1', 'warn: slow cart']]);
    expect(web[0]).toMatchObject({ time: '2026-12-01T10:00:00.000000Z', namespace: 'shop', service: 'web', container: 'berth.t.shop.web.1', node: 'local', stream: 'stdout' });
    expect(store.query({ service: 'web', replica: '2' }).map((l) => l.text)).toEqual(['GET /checkout 500']);
    expect(store.query({ service: 'web', stream: 'stderr' }).map((l) => l.text)).toEqual(['warn: slow cart']);
    expect(store.query({ service: 'web', since: T0 + 10, until: T0 + 20 }).map((l) => l.text)).toEqual(['GET /checkout 500']);
    expect(store.query({ service: 'web', tail: 2 }).map((l) => l.text)).toEqual(['GET /checkout 500', 'warn: slow cart']);
    expect(store.query({ grep: '^GET /c\\w+ 5\\d\\d$' }).map((l) => l.text)).toEqual(['GET /checkout 500']);
    expect(store.query({ search: 'CART get' }).map((l) => l.text)).toEqual(['GET /cart 200']);
    expect(store.query({ search: '"); DROP' })).toEqual([]);
    expect(store.query({ service: 'nope' })).toEqual([]);
  });

  it('keeps a cursor per source: the time of its last line and how many lines have it, across batches and a reopen', () => {
    expect(store.append(src('a'), [{ ts: T0, stream: 'stdout', text: '1' }, { ts: T0 + 1, stream: 'stdout', text: '2' }, { ts: T0 + 1, stream: 'stdout', text: '3' }])).toBe(3);
    expect(store.cursor('a')).toEqual({ ts: T0 + 1, n: 2 });
    // A later batch at the same microsecond: new lines (a fast printer), stored and counted.
    expect(store.append(src('a'), [{ ts: T0 + 1, stream: 'stdout', text: '4' }])).toBe(1);
    expect(store.cursor('a')).toEqual({ ts: T0 + 1, n: 3 });
    store.append(src('a'), [{ ts: T0 + 2, stream: 'stdout', text: '5' }]);
    expect(store.query({}).map((l) => l.text)).toEqual(['1', '2', '3', '4', '5']);
    store.close();
    store = LogStore.open(path.join(dir, 'logs.db'), { retentionMs: 7 * 86_400_000, maxBytes: 1 << 30 });
    expect(store.cursor('a')).toEqual({ ts: T0 + 2, n: 1 });
  });

  it('prunes by age and by size, oldest first, and forgets silent sources with no line left', () => {
    const day = 86_400_000_000;
    store.setLimits({ retentionMs: 86_400_000, maxBytes: 1 << 30 });
    store.append(src('old'), Array.from({ length: 100 }, (_, i) => ({ ts: T0 + i, stream: 'stdout' as const, text: `old ${i}` })));
    store.append(src('new'), Array.from({ length: 100 }, (_, i) => ({ ts: T0 + 2 * day + i, stream: 'stdout' as const, text: `new ${i}` })));
    expect(store.prune(Math.floor((T0 + 2 * day) / 1000)).lines).toBe(100);
    expect(store.query({}).every((l) => l.text.startsWith('new'))).toBe(true);
    expect(store.cursor('old')).toBeUndefined();
    const big = 'x'.repeat(1000);
    store.append(src('new'), Array.from({ length: 20_000 }, (_, i) => ({ ts: T0 + 3 * day + i, stream: 'stdout' as const, text: `${i} ${big}` })));
    const before = store.stats().bytes;
    store.setLimits({ retentionMs: 30 * 86_400_000, maxBytes: Math.floor(before / 2) });
    store.prune(Math.floor((T0 + 3 * day) / 1000));
    const after = store.stats();
    expect(after.bytes).toBeLessThanOrEqual(Math.floor(before / 2));
    expect(after.lines).toBeGreaterThan(0);
    // The newest lines are the ones kept.
    expect(store.query({ tail: 1 })[0]!.text.startsWith('19999 ')).toBe(true);
  });

  it('stores events and answers them by time and service', () => {
    store.event({ ts: T0, type: 'apply', namespace: 'shop', service: 'web', reason: 'change', message: 'create web replica 1: not running' });
    store.event({ ts: T0 + 5, type: 'rollback', namespace: 'shop', service: 'web', message: 'rolled back' });
    store.event({ ts: T0 + 9, type: 'pass-failed', message: 'git unreachable' });
    expect(store.events({ service: 'web' }).map((e) => e.type)).toEqual(['apply', 'rollback']);
    expect(store.events({ since: T0 + 1 }).map((e) => e.message)).toEqual(['rolled back', 'git unreachable']);
  });

  it('checks grep patterns and quotes search words', () => {
    expect(compileGrep('a(')).toMatchObject({ ok: false, error: expect.stringContaining('is not an RE2 regular expression') });
    expect(compileGrep('(a+)+$')).toMatchObject({ ok: true });
    expect(searchQuery('foo "bar')).toBe('"foo" """bar"');
    expect(searchQuery('  ')).toBeUndefined();
    expect(isoMicros(T0 + 123_456)).toBe('2026-12-01T10:00:00.123456Z');
  });
});
