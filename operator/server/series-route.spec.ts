import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { classify } from '../auth/policy.ts';
import { seriesRoute } from './series-route.ts';
import type { SeriesColumns } from '../metrics/series.ts';

const calls: { service: string; sinceMs: number | undefined }[] = [];
const columns = (service: string): SeriesColumns => ({ service, stepMs: 10_000, t: [1, 2], rps: [null, 5], p50: [null, 7.5], p95: [null, 21.25], cpu: [0.5, null], memory: [1e6, 2e6] });
let server: http.Server;
let base = '';

beforeAll(async () => {
  const route = seriesRoute({ series: (service, sinceMs) => (calls.push({ service, sinceMs }), service === 'shop/web' ? columns(service) : undefined), known: (s) => s === 'shop/new', stepMs: 10_000 });
  server = http.createServer((req, res) => void route(req, res));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/series`;
});

afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

describe('GET /v1/series', () => {
  it('answers the columns of a tracked service, with since as milliseconds', async () => {
    calls.length = 0;
    const res = await fetch(`${base}?service=shop/web&since=15m`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual(columns('shop/web'));
    expect(calls).toEqual([{ service: 'shop/web', sinceMs: 900_000 }]);
    const all = await fetch(`${base}?service=${encodeURIComponent('shop/web')}`);
    expect(all.status).toBe(200);
    expect(calls[1]).toEqual({ service: 'shop/web', sinceMs: undefined });
  });

  it('answers 404 for a service it does not track', async () => {
    const res = await fetch(`${base}?service=shop/nope`);
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ error: 'no series for service shop/nope' });
  });

  it('answers no points for a service of the revision in force not sampled yet', async () => {
    const res = await fetch(`${base}?service=shop/new`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ service: 'shop/new', stepMs: 10_000, t: [], rps: [], p50: [], p95: [], cpu: [], memory: [] });
  });

  it('answers 400 for a bad parameter and 405 for another method', async () => {
    for (const q of ['', '?service=', '?service=web', '?service=a/b/c', '?service=shop/web&service=shop/db', '?service=shop/web&since=soon', '?service=shop/web&since=0s', '?service=shop/web&since=-5m', '?service=shop/web&since=48h']) {
      const res = await fetch(`${base}${q}`);
      expect(res.status, q).toBe(400);
      expect(((await res.json()) as { error: string }).error).toMatch(/^(service|since):/);
    }
    expect((await fetch(`${base}?service=shop/web`, { method: 'POST' })).status).toBe(405);
  });

  it('needs read metrics, which a viewer holds', () => {
    expect(classify('GET', '/v1/series')).toEqual({ open: false, access: { verb: 'read', resource: 'metrics' }, changesState: false });
  });
});
