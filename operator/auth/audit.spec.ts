import { mkdtemp, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { AuditLog } from './audit.ts';

const dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

describe('AuditLog', () => {
  it('rolls the file over at its limit, keeps both files 0600 and reads entries back across them in order', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'berth-audit-'));
    dirs.push(dir);
    const log = new AuditLog(dir, undefined, 1_000);
    for (let i = 0; i < 20; i++) log.record({ actor: 'ci', source: '127.0.0.1', action: `PUT /v1/x/${i}`, result: '200' });
    expect((await stat(`${log.file}.1`)).mode & 0o777).toBe(0o600);
    expect((await stat(log.file)).size).toBeLessThan(1_000 + 200);
    const actions = (await log.read(0)).map((e) => e.action);
    expect(actions.length).toBeGreaterThan(0);
    expect(actions.at(-1)).toBe('PUT /v1/x/19');
    const numbers = actions.map((a) => Number(a.split('/').at(-1)));
    expect(numbers).toEqual([...numbers].sort((a, b) => a - b));
  });

  it('cuts an overlong field', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'berth-audit-'));
    dirs.push(dir);
    const log = new AuditLog(dir);
    log.record({ actor: 'x'.repeat(5_000), source: 'local', action: 'a', result: 'ok' });
    expect((await log.read(0))[0]!.actor.length).toBeLessThan(600);
  });
});
