/** TokenStore on a real temp dir: create, check, expiry, revoke, re-reading the file another process changed, the file's mode and contents. */
import { mkdtempSync, rmSync, statSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BerthError } from '../model/errors.ts';
import { TOKENS_FILE, TokenStore } from './tokens.ts';

let dir: string;
const stores: TokenStore[] = [];
const open = (): TokenStore => {
  const s = TokenStore.open(dir);
  stores.push(s);
  return s;
};

/** Polls `fn` until it is truthy, failing after `ms`. */
async function until<T>(fn: () => Promise<T> | T, what: string, ms = 5000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'berth-tokens-'));
});

afterEach(() => {
  for (const s of stores.splice(0)) s.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('TokenStore', () => {
  it('starts empty without a file, and creates a token that checks to its principal', async () => {
    const store = open();
    expect(store.list()).toEqual([]);
    const { token, entry } = await store.create({ name: 'ci', role: 'operator', namespaces: ['shop'] });
    expect(token).toMatch(/^berth_[0-9a-f]{12}_[A-Za-z0-9_-]{43}$/);
    expect(token.split('_')[1]).toBe(entry.id);
    expect(await store.check(token)).toEqual({ ok: true, principal: { name: 'ci', via: 'token', role: 'operator', namespaces: ['shop'] } });
    // cached: the second check answers the same
    expect(await store.check(token)).toMatchObject({ ok: true });
    expect(store.list()).toEqual([{ id: entry.id, name: 'ci', role: 'operator', namespaces: ['shop'], created: entry.created, expires: null }]);
    const viewer = await store.create({ name: 'dash', role: 'viewer' });
    expect(viewer.entry.namespaces).toEqual(['*']);
  });

  it('refuses malformed, unknown and mismatching tokens', async () => {
    const store = open();
    const { token, entry } = await store.create({ name: 'ci', role: 'viewer' });
    expect(await store.check('nope')).toEqual({ ok: false, reason: 'malformed' });
    expect(await store.check(`${token}x`)).toEqual({ ok: false, reason: 'malformed' });
    expect(await store.check(`berth_000000000000_${'A'.repeat(43)}`)).toEqual({ ok: false, reason: 'unknown' });
    expect(await store.check(`berth_${entry.id}_${'A'.repeat(43)}`)).toEqual({ ok: false, reason: 'mismatch' });
    // a wrong secret does not spoil the right one
    expect(await store.check(token)).toMatchObject({ ok: true });
  });

  it('answers expired past the expiry, also for a token checked (and cached) before', async () => {
    const store = open();
    const now = new Date('2026-01-01T00:00:00Z');
    const { token, entry } = await store.create({ name: 'short', role: 'admin', expiresAt: new Date(now.getTime() + 60_000) }, now);
    expect(entry.expires).toBe('2026-01-01T00:01:00.000Z');
    expect(await store.check(token, now.getTime() + 59_999)).toMatchObject({ ok: true });
    expect(await store.check(token, now.getTime() + 60_000)).toEqual({ ok: false, reason: 'expired' });
    const past = await store.create({ name: 'old', role: 'admin', expiresAt: new Date(Date.now() - 1000) });
    expect(await store.check(past.token)).toEqual({ ok: false, reason: 'expired' });
  });

  it('revokes by name or id, and a revoked token, cached or not, is unknown', async () => {
    const store = open();
    const a = await store.create({ name: 'a', role: 'viewer' });
    const b = await store.create({ name: 'b', role: 'viewer' });
    expect(await store.check(a.token)).toMatchObject({ ok: true });
    expect(store.revoke('a')).toBe(true);
    expect(await store.check(a.token)).toEqual({ ok: false, reason: 'unknown' });
    expect(store.revoke(b.entry.id)).toBe(true);
    expect(await store.check(b.token)).toEqual({ ok: false, reason: 'unknown' });
    expect(store.revoke('a')).toBe(false);
    expect(store.list()).toEqual([]);
  });

  it('refuses a bad name and a duplicate name', async () => {
    const store = open();
    await store.create({ name: 'ci', role: 'viewer' });
    await expect(store.create({ name: 'ci', role: 'admin' })).rejects.toThrow(/a token named "ci" exists/);
    await expect(store.create({ name: 'has space', role: 'admin' })).rejects.toThrow(BerthError);
    await expect(store.create({ name: '', role: 'admin' })).rejects.toThrow(/token name/);
  });

  it('sees what another process changed: by reload(), and by watch within its interval', async () => {
    const server = open();
    const cli = open();
    const made = await cli.create({ name: 'ci', role: 'viewer' });
    expect(await server.check(made.token)).toEqual({ ok: false, reason: 'unknown' }); // not re-read yet
    server.reload();
    expect(await server.check(made.token)).toMatchObject({ ok: true });

    server.watch(50);
    expect(cli.revoke('ci')).toBe(true);
    await until(async () => (await server.check(made.token)).ok === false, 'the revocation seen by the watching store');
    const again = await cli.create({ name: 'ci2', role: 'admin' });
    await until(async () => (await server.check(again.token)).ok, 'the new token seen by the watching store');
    expect(server.list().map((t) => t.name)).toEqual(['ci2']);
  });

  it('keeps the file readable by its owner only, with hashes but no secret', async () => {
    const store = open();
    const made = [await store.create({ name: 'a', role: 'admin' }), await store.create({ name: 'b', role: 'viewer' })];
    const file = path.join(dir, TOKENS_FILE);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const text = readFileSync(file, 'utf8');
    const doc = JSON.parse(text) as { kind: string; tokens: { hash: string }[] };
    expect(doc.kind).toBe('Tokens');
    expect(doc.tokens).toHaveLength(2);
    for (const { token } of made) {
      expect(text).not.toContain(token);
      expect(text).not.toContain(token.slice(19));
    }
    store.revoke('a');
    expect(statSync(file).mode & 0o777).toBe(0o600);
  });

  it('fails E_CONFIG naming the file for a file that is not a tokens file', () => {
    const file = path.join(dir, TOKENS_FILE);
    const bad = (text: string, msg: RegExp): void => {
      writeFileSync(file, text, { mode: 0o600 });
      let err: unknown;
      try {
        TokenStore.open(dir);
      } catch (e) {
        err = e;
      }
      expect(err, text).toBeInstanceOf(BerthError);
      expect((err as BerthError).code).toBe('E_CONFIG');
      expect((err as Error).message).toContain(file);
      expect((err as Error).message).toMatch(msg);
      expect((err as Error).message).not.toContain('\n');
    };
    bad('{ "tokens": [', /not a tokens file/);
    bad('not json at all', /not a tokens file/);
    bad(JSON.stringify({ apiVersion: 'berth/v1', kind: 'Tokens', tokens: [{ id: 'x', role: 'root', namespaces: [], hash: 'h', salt: 's' }] }), /tokens\[0\]/);
    bad(JSON.stringify({ apiVersion: 'berth/v1', kind: 'Tokens', tokens: [{ id: 'x', role: 'admin', namespaces: ['*'] }] }), /tokens\[0\]/);
    bad(JSON.stringify({ apiVersion: 'berth/v1', kind: 'Tokens', tokens: 'all of them' }), /not a tokens file/);
    bad('null', /not a tokens file/);
  });
});
