import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../../test/helpers/docker.ts';
import { makeHostCert, makeRouteCa } from '../../test/helpers/route-certs.ts';
import { CertificateStore, type CertificateSource, type KeyPair } from './tls-certs.ts';

let dir: string;
let a: KeyPair;
let b: KeyPair;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'berth-certs-'));
  await makeRouteCa(dir);
  const pair = async (file: string, host: string): Promise<KeyPair> => {
    const c = await makeHostCert(dir, file, [host]);
    return { cert: await readFile(c.cert), key: await readFile(c.key) };
  };
  a = await pair('a', 'a.example.com');
  b = await pair('b', '*.example.com');
});
afterAll(() => rm(dir, { recursive: true, force: true }));

/** A CertificateSource in memory, as an ACME client would be one: `set` swaps the pair and signals the change. */
function memorySource(name: string, pair: KeyPair | undefined): CertificateSource & { set(p: KeyPair): void } {
  let current = pair;
  let changed = (): void => {};
  return {
    name,
    load: () => (current ? Promise.resolve(current) : Promise.reject(new Error('not issued yet'))),
    watch: (cb) => {
      changed = cb;
      return () => (changed = () => {});
    },
    set: (p) => {
      current = p;
      changed();
    },
  };
}

describe('CertificateStore', () => {
  it('selects exact, then the longest wildcard, then the first loaded certificate', async () => {
    const warn: string[] = [];
    const later = memorySource('later', undefined);
    const store = new CertificateStore([
      { hosts: ['a.example.com'], source: memorySource('a', a) },
      { hosts: ['*.example.com'], source: memorySource('b', b) },
      { hosts: ['*.deep.example.com'], source: later },
    ], { warn: (m, f) => warn.push(`${m} ${JSON.stringify(f)}`), info: () => {} });
    await store.start();
    expect(warn).toEqual([expect.stringContaining('not serving it until its files change')]);
    expect(warn[0]).toContain('"certificate":"later"');
    const ctxA = store.select('A.example.com.');
    const ctxB = store.select('x.example.com');
    expect(ctxA).not.toBe(ctxB);
    expect(store.select('x.deep.example.com')).toBe(ctxB); // not loaded yet: the next match serves
    expect(store.select('other.test')).toBe(ctxA);
    expect(store.select('example.com')).toBe(ctxA);
    later.set(b);
    await waitFor(() => store.select('x.deep.example.com') !== ctxB, { timeoutMs: 2_000, intervalMs: 5 });
    expect(store.fallback).toBe(await memorySource('a', a).load());
    store.close();
  });

  it('refuses to start when nothing loads', async () => {
    const store = new CertificateStore([{ hosts: ['a.example.com'], source: memorySource('only', undefined) }], { warn: () => {}, info: () => {} });
    await expect(store.start()).rejects.toMatchObject({ code: 'E_CONFIG' });
  });
});
