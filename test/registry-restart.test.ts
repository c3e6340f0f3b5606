/**
 * External endpoints registered through the API survive a restart of the operator: the second operator, on the same
 * state dir, restores them once its first revision is applied (before, they were lost, and the proxy dropped them at
 * the next configuration push). An endpoint deregistered before the restart stays gone; the file is 0600.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanupInstance, testDocker, uniqueInstance, waitFor } from './helpers/docker.ts';
import { makeRemote, type Remote } from './helpers/git.ts';
import { idleService, startTestOperator, type TestOperator } from './helpers/operator.ts';

const docker = testDocker();
const instance = uniqueInstance('reg-restart');
let remote: Remote;
let op: TestOperator | undefined;
let stateDir: string;

async function call(o: TestOperator, method: string, route: string, body?: unknown): Promise<{ status: number; json: unknown }> {
  const r = await fetch(`${o.url}${route}`, { method, headers: { ...o.auth, 'content-type': 'application/json' }, ...(body ? { body: JSON.stringify(body) } : {}) });
  return { status: r.status, json: await r.json().catch(() => null) };
}
const ids = async (o: TestOperator): Promise<string[]> =>
  ((await call(o, 'GET', '/v1/services/shop/web/endpoints')).json as { endpoints: { id: string; address: string; source: string }[] }).endpoints.filter((e) => e.source === 'external').map((e) => `${e.id}@${e.address}`);

beforeAll(async () => {
  remote = await makeRemote({ 'web.yaml': idleService('web', 'shop') });
  op = await startTestOperator(remote.url, instance);
  stateDir = op.stateDir;
  await op.reached((p) => p.converged, 'first converge');
}, 60_000);

afterAll(async () => {
  await op?.stop();
  await remote?.close();
  await cleanupInstance(docker, instance);
  await fs.rm(stateDir, { recursive: true, force: true });
});

describe('external endpoints across an operator restart', () => {
  it('are registered again by the next operator, and a deregistered one is not', async () => {
    const first = op!;
    for (const [id, address] of [['db-a', '10.20.0.1'], ['db-b', '10.20.0.2']] as const) {
      expect((await call(first, 'PUT', `/v1/services/shop/web/endpoints/${id}`, { address, port: 5432, ttl: '1h', metadata: { zone: 'a' } })).status).toBe(200);
    }
    expect((await call(first, 'DELETE', '/v1/services/shop/web/endpoints/db-b')).status).toBe(200);
    const file = path.join(stateDir, `registry-${instance}.json`);
    await waitFor(async () => (await fs.readFile(file, 'utf8').catch(() => '')).includes('db-a') && !(await fs.readFile(file, 'utf8')).includes('db-b'), { what: 'the registrations saved' });
    expect((await fs.stat(file)).mode & 0o777).toBe(0o600);
    await first.stopOperator();
    op = undefined;
    op = await startTestOperator(remote.url, instance, {}, { stateDir });
    await op.reached((p) => p.converged, 'converge after the restart');
    await waitFor(async () => (await ids(op!)).length > 0 || undefined, { what: 'the endpoint restored' });
    expect(await ids(op)).toEqual(['db-a@10.20.0.1']);
    const restored = (await call(op, 'GET', '/v1/services/shop/web/endpoints')).json as { endpoints: { id: string; metadata: Record<string, string>; ready: boolean }[] };
    expect(restored.endpoints.find((e) => e.id === 'db-a')).toMatchObject({ metadata: { zone: 'a' }, ready: true });
  });
});
