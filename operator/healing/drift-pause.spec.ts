/** The drift pause store: persisted atomically with mode 0600, reloaded, bounded. */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../util/log.ts';
import { DriftPauses, MAX_PAUSES, MAX_REASON, driftPausesFile } from './drift-pause.ts';

const dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await fs.rm(d, { recursive: true, force: true });
});
const tmp = async () => {
  const d = await fs.mkdtemp(path.join(os.tmpdir(), 'berth-drift-pauses-'));
  dirs.push(d);
  return d;
};
const at = new Date('2026-01-01T00:00:00Z');

describe('DriftPauses', () => {
  it('persists pauses (0600, no tmp file left) and reloads them; resume removes them from the file', async () => {
    const dir = await tmp();
    const s = DriftPauses.open(dir, 'prod');
    expect(s.pause({ service: 'web/api', by: 'alice', reason: ' leak hunt ' }, at)).toEqual({ ok: true, created: true, pause: { service: 'web/api', by: 'alice', at: '2026-01-01T00:00:00.000Z', reason: 'leak hunt' } });
    expect(s.pause({ service: 'web/db', by: 'bob' }, at).ok).toBe(true);
    const file = driftPausesFile(dir, 'prod');
    expect((await fs.stat(file)).mode & 0o777).toBe(0o600);
    expect((await fs.readdir(dir)).sort()).toEqual(['drift-pauses-prod.json']);
    const again = DriftPauses.open(dir, 'prod');
    expect([...again.keys()].sort()).toEqual(['web/api', 'web/db']);
    expect(again.get('web/db')).toEqual({ service: 'web/db', by: 'bob', at: '2026-01-01T00:00:00.000Z' });
    expect(again.resume('web/api')?.by).toBe('alice');
    expect(again.resume('web/api')).toBeUndefined();
    expect([...DriftPauses.open(dir, 'prod').keys()]).toEqual(['web/db']);
    // another instance's pauses are its own
    expect(DriftPauses.open(dir, 'staging').size).toBe(0);
  });

  it('is idempotent: pausing a paused service keeps the first pause', () => {
    const s = new DriftPauses(null);
    s.pause({ service: 'web/api', by: 'alice', reason: 'first' }, at);
    expect(s.pause({ service: 'web/api', by: 'bob', reason: 'second' })).toMatchObject({ ok: true, created: false, pause: { by: 'alice', reason: 'first' } });
  });

  it('refuses bad keys, long reasons and more than MAX_PAUSES pauses', () => {
    const s = new DriftPauses(null);
    for (const bad of ['api', 'a/b/c', 'Web/api', '../x', 'web/', `web/${'a'.repeat(64)}`]) expect(s.pause({ service: bad, by: 'a' })).toMatchObject({ ok: false, status: 400 });
    expect(s.pause({ service: 'web/api', by: 'a', reason: 'x'.repeat(MAX_REASON + 1) })).toMatchObject({ ok: false, status: 400 });
    expect(s.pause({ service: 'web/api', by: 'a', reason: 'x'.repeat(MAX_REASON) }).ok).toBe(true);
    for (let i = 1; i < MAX_PAUSES; i++) expect(s.pause({ service: `ns/s${i}`, by: 'a' }).ok).toBe(true);
    expect(s.size).toBe(MAX_PAUSES);
    expect(s.pause({ service: 'ns/one-more', by: 'a' })).toMatchObject({ ok: false, status: 507 });
  });

  it('loads only valid entries, at most MAX_PAUSES, and survives a missing or corrupt file', async () => {
    const dir = await tmp();
    const file = driftPausesFile(dir, 't');
    expect(DriftPauses.open(dir, 't').size).toBe(0);
    await fs.writeFile(file, '{ not json');
    const warnings: string[] = [];
    const log = createLogger({ level: 'warn', write: (line) => warnings.push(line) });
    expect(new DriftPauses(file, log).size).toBe(0);
    const pauses = [
      { service: 'BAD', by: 'x', at: 'now' }, { service: 'web/api', by: 7, at: 'now' }, { service: 'web/ok', by: 'x', at: 'now', reason: 'r'.repeat(MAX_REASON + 1) },
      ...Array.from({ length: MAX_PAUSES + 5 }, (_, i) => ({ service: `ns/s${i}`, by: 'x', at: 'now' })),
    ];
    await fs.writeFile(file, JSON.stringify({ apiVersion: 'berth/v1', kind: 'DriftPauses', pauses }));
    const s = new DriftPauses(file, log);
    expect(s.size).toBe(MAX_PAUSES);
    expect(s.get('web/api')).toBeUndefined();
    expect(warnings.length).toBe(2);
  });
});
