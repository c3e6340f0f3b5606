import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { rm } from 'node:fs/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { diff } from '../diff/diff.ts';
import { loadDesired } from '../manifests/index.ts';
import type { DesiredState } from '../model/state.ts';
import { FakeRuntime } from '../../test/doubles/fake-runtime.ts';
import type { CreateContainerSpec } from '../runtime/runtime.ts';
import type { RepoSnapshot, TreeEntry } from '../source/source.ts';
import { silentLogger } from '../util/log.ts';
import { Redactor } from '../util/redact.ts';
import { applyPlan } from './apply.ts';
import { bindTargets } from './secret-files.ts';
import { SecretStore } from './secret-resolver.ts';

const FIX = new URL('../../test/fixtures/secrets/', import.meta.url);
const fixture = (p: string): Buffer => readFileSync(new URL(p, FIX));
const AGE_KEY = fileURLToPath(new URL('age/key.txt', FIX));
const SOPS_KEY = fileURLToPath(new URL('sops-age-humphd/key.txt', FIX));
const OTHER_KEY = fileURLToPath(new URL('age/other-key.txt', FIX));

function snapshot(files: Record<string, string | Buffer>, revision: string): RepoSnapshot {
  const bytes = new Map(Object.entries(files).map(([k, v]) => [k, Buffer.isBuffer(v) ? v : Buffer.from(v)]));
  return {
    revision,
    list: async (dir) => [...bytes.keys()].filter((p) => dir === '' || dir === '.' || p.startsWith(`${dir}/`)).sort().map((path): TreeEntry => ({ path, mode: 0o100644 })),
    read: async (path) => bytes.get(path) ?? Promise.reject(new Error(`no ${path}`)),
    treeId: async () => null,
  };
}

const manifests = (token: Buffer): Record<string, string | Buffer> => ({
  'deploy/all.yaml': [
    'apiVersion: berth/v1\nkind: Secret\nmetadata: { name: token }\nspec: { file: ../secrets/token.age }\n',
    'apiVersion: berth/v1\nkind: Secret\nmetadata: { name: db }\nspec: { file: ../secrets/db.enc.yaml }\n',
    'apiVersion: berth/v1\nkind: Service\nmetadata: { name: web }\nspec:\n  image: img:1\n  secrets: [{ secret: token, key: value, target: /run/secrets/token }, { secret: db, uid: 1000 }]\n',
  ].join('---\n'),
  'secrets/token.age': token,
  'secrets/db.enc.yaml': fixture('sops-age-humphd/secret.enc.yaml'),
});

const made: string[] = [];
afterAll(async () => { for (const dir of made) await rm(dir, { recursive: true, force: true }); });

async function keysFile(...files: string[]): Promise<string> {
  const { mkdtemp, writeFile } = await import('node:fs/promises');
  const { tmpdir } = await import('node:os');
  const dir = await mkdtemp(`${tmpdir()}/berth-keys-`);
  made.push(dir);
  const path = `${dir}/keys.txt`;
  await writeFile(path, files.map((f) => readFileSync(f, 'utf8')).join('\n'), { mode: 0o600 });
  return path;
}

async function pass(rt: FakeRuntime, store: SecretStore, files: Record<string, string | Buffer>, rev: string): Promise<{ desired: DesiredState; errors: string[] }> {
  const desired = await loadDesired(snapshot(files, rev), { instance: 't', path: 'deploy' });
  store.remember(desired);
  const plan = diff(desired, await rt.observe('t', ['img:1']), { instance: 't' });
  const r = await applyPlan(plan, { runtime: rt, instance: 't', log: silentLogger, buildContext: async () => [], secrets: store });
  return { desired, errors: r.outcomes.flatMap((o) => (o.error ? [`${o.error.code}: ${o.error.message}`] : [])) };
}

/** The recorded creates (the fake's structuredClone turns Buffers into Uint8Arrays: back to Buffers). */
const created = (rt: FakeRuntime): CreateContainerSpec[] => rt.calls.filter((c) => c.method === 'createContainer').map((c) => {
  const spec = c.args[0] as CreateContainerSpec;
  return spec.secrets ? { ...spec, secrets: { ...spec.secrets, files: spec.secrets.files.map((f) => ({ ...f, content: Buffer.from(f.content) })) } } : spec;
});

describe('secret files at apply', () => {
  it('binds one directory per distinct target directory, a directory below another being covered by it', () => {
    const m = (target: string, key?: string) => ({ secret: 's', target, mode: '0400', file: 'f', contentHash: 'h', ...(key ? { key } : {}) });
    expect(bindTargets([m('/run/secrets/token', 'value'), m('/run/secrets/db'), m('/etc/app/x', 'k'), m('/etc/app/y', 'k')])).toEqual(['/etc/app', '/run/secrets']);
  });

  it('decrypts on the operator, delivers the items as files with their modes and owners, and registers every value', async () => {
    const rt = new FakeRuntime();
    rt.addImage('img:1', 'sha256:1');
    const redact = new Redactor();
    const store = new SecretStore({ keyFile: await keysFile(AGE_KEY, SOPS_KEY), redact: (v) => redact.add(v) });
    const { errors } = await pass(rt, store, manifests(fixture('age/secret.txt.age')), 'r1');
    expect(errors).toEqual([]);
    const [spec] = created(rt);
    expect(spec?.secrets?.binds).toEqual([{ source: `/dev/shm/berth/t/${spec!.name}/0`, target: '/run/secrets' }]);
    const files = new Map(spec!.secrets!.files.map((f) => [f.path, f]));
    expect(files.get('/run/secrets/token')).toMatchObject({ mode: 0o400, uid: 0, gid: 0 });
    expect(files.get('/run/secrets/token')?.content.toString()).toBe('sekrit-7f3a9c-DISTINCT\n');
    expect(files.get('/run/secrets/db/complex.value')).toMatchObject({ mode: 0o400, uid: 1000 });
    expect(files.get('/run/secrets/db/complex.value')?.content.toString()).toBe('this is a secret');
    expect(files.get('/run/secrets/db/complex.array.1')?.content.toString()).toBe('two');
    // Values never reach the container's environment or labels, and the redactor knows them.
    expect(JSON.stringify({ env: spec!.env, labels: spec!.labels })).not.toContain('sekrit');
    expect(redact.text('x sekrit-7f3a9c-DISTINCT y this is a secret')).toBe('x *** y ***');
  });

  it('a file it cannot decrypt fails the create with the file and the reason, and the old replica keeps running', async () => {
    const rt = new FakeRuntime();
    rt.addImage('img:1', 'sha256:1');
    const store = new SecretStore({ keyFile: await keysFile(AGE_KEY, SOPS_KEY), redact: () => undefined });
    expect((await pass(rt, store, manifests(fixture('age/secret.txt.age')), 'r1')).errors).toEqual([]);
    const before = (await rt.observe('t', [])).containers.map((c) => c.id);
    const { errors } = await pass(rt, store, manifests(fixture('age/for-other.age.asc')), 'r2');
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/^E_SECRET: cannot decrypt secrets\/token\.age \(Secret default\/token\).*\(no-key\)$/);
    expect(errors[0]).not.toContain('sekrit');
    const after = (await rt.observe('t', [])).containers;
    expect(after.map((c) => c.id)).toEqual(before);
    expect(after[0]?.status).toBe('running');
  });

  it('without the key of the SOPS file, names the reason; a missing key file too', async () => {
    const rt = new FakeRuntime();
    rt.addImage('img:1', 'sha256:1');
    const store = new SecretStore({ keyFile: OTHER_KEY, redact: () => undefined });
    const { errors } = await pass(rt, store, manifests(fixture('age/for-other.age.asc')), 'r1');
    expect(errors.join('\n')).toMatch(/E_SECRET: cannot decrypt secrets\/db\.enc\.yaml \(Secret default\/db\).*\(no-key\)/);
    const missing = new SecretStore({ keyFile: '/nonexistent/keys.txt', redact: () => undefined });
    const fresh = new FakeRuntime();
    fresh.addImage('img:1', 'sha256:1');
    const r = await pass(fresh, missing, manifests(fixture('age/secret.txt.age')), 'r1').catch((e: Error) => ({ errors: [e.message] }));
    expect(r.errors.join('\n')).toMatch(/age key file \/nonexistent\/keys\.txt does not exist \(no-key\)/);
  });

  it('resolves only the Secrets of the desired states it was last told of, and names a missing item', async () => {
    const store = new SecretStore({ keyFile: await keysFile(AGE_KEY, SOPS_KEY), redact: () => undefined });
    const desired = await loadDesired(snapshot(manifests(fixture('age/secret.txt.age')), 'r1'), { instance: 't', path: 'deploy' });
    store.remember(desired);
    const token = desired.secrets!.find((x) => x.name === 'token')!;
    expect([...(await store.resolve('default', 'token', token.contentHash)).keys()]).toEqual(['value']);
    await expect(store.resolve('other', 'token', token.contentHash)).rejects.toThrow(/not in the desired state in force/);
    store.remember(null);
    await expect(store.resolve('default', 'token', token.contentHash)).rejects.toThrow(/not in the desired state in force/);
    const rt = new FakeRuntime();
    rt.addImage('img:1', 'sha256:1');
    const files = manifests(fixture('age/secret.txt.age'));
    files['deploy/all.yaml'] = String(files['deploy/all.yaml']).replace('key: value', 'key: nope');
    // validation refuses it first (SOPS and age item names are known without decrypting) ...
    await expect(loadDesired(snapshot(files, 'r2'), { instance: 't', path: 'deploy' })).rejects.toThrow(/spec\.secrets\[0\]\.key: Secret default\/token \(secrets\/token\.age\) has no item "nope"/);
    // ... and apply still guards a desired state that names one
    const stale: DesiredState = { ...desired, services: desired.services.map((s) => ({ ...s, secrets: s.secrets?.map((m) => (m.secret === 'token' ? { ...m, key: 'nope' } : m)) })) };
    store.remember(stale);
    const plan = diff(stale, await rt.observe('t', ['img:1']), { instance: 't' });
    const r = await applyPlan(plan, { runtime: rt, instance: 't', log: silentLogger, buildContext: async () => [], secrets: store });
    const errors = r.outcomes.flatMap((o) => (o.error ? [`${o.error.code}: ${o.error.message}`] : []));
    expect(errors).toEqual(['E_SECRET: Secret default/token (secrets/token.age) has no item "nope" (items: value)']);
  });
});
