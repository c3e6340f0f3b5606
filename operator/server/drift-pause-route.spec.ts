/** POST /v1/services/<ns>/<name>/pause-drift|resume-drift through the API server: roles, unknown services, body, events. */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Guard } from '../auth/guard.ts';
import { TokenStore } from '../auth/tokens.ts';
import { DriftPauses } from '../healing/drift-pause.ts';
import { silentLogger } from '../util/log.ts';
import { Metrics } from './metrics.ts';
import { startServer, type Server } from './server.ts';
import type { DriftPauseDeps } from './drift-pause-route.ts';

const open: Server[] = [];
const dirs: string[] = [];
afterEach(async () => {
  for (const s of open.splice(0)) await s.close();
  for (const d of dirs.splice(0)) await fs.rm(d, { recursive: true, force: true });
});

async function start(services: string[] | null = ['web/api']) {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'berth-drift-route-'));
  dirs.push(dir);
  const tokens = TokenStore.open(dir);
  const t = {
    viewer: (await tokens.create({ name: 'dash', role: 'viewer' })).token,
    operator: (await tokens.create({ name: 'alice', role: 'operator', namespaces: ['web'] })).token,
    other: (await tokens.create({ name: 'bob', role: 'operator', namespaces: ['shop'] })).token,
    admin: (await tokens.create({ name: 'root', role: 'admin' })).token,
  };
  const store = DriftPauses.open(dir, 't');
  const triggers: string[] = [];
  const events: Parameters<NonNullable<DriftPauseDeps['event']>>[0][] = [];
  const driftPause: DriftPauseDeps = {
    store, hasService: (k) => (services === null ? null : services.includes(k)), trigger: (r) => triggers.push(r), event: (e) => events.push(e),
  };
  const server = await startServer('127.0.0.1', 0, { log: silentLogger, metrics: new Metrics(), status: () => null, trigger: () => undefined, guard: new Guard({ tokens }), driftPause });
  open.push(server);
  const post = async (p: string, token: string, body?: string) => {
    const res = await fetch(`${server.url}${p}`, { method: 'POST', headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) }, ...(body !== undefined ? { body } : {}) });
    return { status: res.status, json: (await res.json()) as Record<string, unknown> };
  };
  return { dir, t, store, triggers, events, post };
}

describe('drift pause route', () => {
  it('refuses a viewer (403) and an operator of another namespace; nothing is paused', async () => {
    const h = await start();
    expect((await h.post('/v1/services/web/api/pause-drift', h.t.viewer)).status).toBe(403);
    expect((await h.post('/v1/services/web/api/resume-drift', h.t.viewer)).status).toBe(403);
    const other = await h.post('/v1/services/web/api/pause-drift', h.t.other);
    expect(other.status).toBe(403);
    expect(other.json.error).toBe('role operator may not trigger drift in namespace web');
    expect(h.store.size).toBe(0);
    expect(h.triggers).toEqual([]);
  });

  it('pauses with a reason (200, the pause), records who in an event, triggers a pass; again is idempotent', async () => {
    const h = await start();
    const r = await h.post('/v1/services/web/api/pause-drift', h.t.operator, JSON.stringify({ reason: 'debugging a leak' }));
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({ service: 'web/api', by: 'alice', reason: 'debugging a leak' });
    expect(Date.parse(r.json.at as string)).not.toBeNaN();
    expect(h.events).toEqual([{ type: 'drift-paused', namespace: 'web', service: 'api', reason: 'api', message: 'drift correction of web/api paused by alice: debugging a leak' }]);
    expect(h.triggers).toEqual(['pause-drift web/api by alice']);
    const again = await h.post('/v1/services/web/api/pause-drift', h.t.admin);
    expect(again.status).toBe(200);
    expect(again.json).toMatchObject({ service: 'web/api', by: 'alice', alreadyPaused: true });
    expect(h.events).toHaveLength(1);
    // persisted, readable by the owner only
    const file = path.join(h.dir, 'drift-pauses-t.json');
    expect((await fs.stat(file)).mode & 0o777).toBe(0o600);
    expect(DriftPauses.open(h.dir, 't').get('web/api')).toMatchObject({ by: 'alice', reason: 'debugging a leak' });

    const resumed = await h.post('/v1/services/web/api/resume-drift', h.t.admin);
    expect(resumed.status).toBe(200);
    expect(resumed.json).toMatchObject({ service: 'web/api', resumed: true, pause: { by: 'alice' } });
    expect(h.events[1]).toMatchObject({ type: 'drift-resumed', namespace: 'web', service: 'api', message: expect.stringMatching(/^drift correction of web\/api resumed by root \(paused by alice since /) });
    expect(h.triggers).toEqual(['pause-drift web/api by alice', 'resume-drift web/api by root']);
    expect((await h.post('/v1/services/web/api/resume-drift', h.t.admin)).json).toMatchObject({ resumed: false });
    expect(h.store.size).toBe(0);
  });

  it('answers 404 for a Service not in the revision in force, 503 before one, 400 for bad bodies and paths', async () => {
    const h = await start();
    const unknown = await h.post('/v1/services/web/nope/pause-drift', h.t.operator);
    expect(unknown.status).toBe(404);
    expect(unknown.json.error).toBe('no Service web/nope in the revision in force (berth status lists them)');
    expect((await h.post('/v1/services/web/api/pause-drift', h.t.operator, '{"reason": 5}')).status).toBe(400);
    expect((await h.post('/v1/services/web/api/pause-drift', h.t.operator, '{"reason": "x", "by": "mallory"}')).status).toBe(400);
    expect((await h.post('/v1/services/web/api/pause-drift', h.t.operator, 'not json')).status).toBe(400);
    expect((await h.post('/v1/services/web/api/pause-drift', h.t.operator, JSON.stringify({ reason: 'x'.repeat(201) }))).status).toBe(400);
    expect((await h.post('/v1/services/web/api/pause-drift', h.t.operator, JSON.stringify({ reason: 'a\nb' }))).status).toBe(400);
    expect((await h.post('/v1/services/web/api/pause-drift', h.t.operator, JSON.stringify({ reason: 'x'.repeat(5000) }))).status).toBe(413);
    expect((await h.post('/v1/services/Web/api/pause-drift', h.t.admin)).status).toBe(400);
    expect(h.store.size).toBe(0);
    expect(h.events).toEqual([]);
    const before = await start(null);
    expect((await before.post('/v1/services/web/api/pause-drift', before.t.operator)).status).toBe(503);
  });
});
