import { readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../../model/errors.ts';
import type { RepoSnapshot, TreeEntry } from '../../../source/source.ts';
import { loadDesired } from '../../load.ts';

const FIX = new URL('../../../../test/fixtures/secrets/', import.meta.url);
const fixture = (p: string): Buffer => readFileSync(new URL(p, FIX));
const AGE = fixture('age/secret.txt.age.asc');
const AGE_BINARY = fixture('age/two-recipients.age');
const SOPS = fixture('sops-age-humphd/secret.enc.yaml');
const SOPS_JSON = fixture('sops-age-humphd/secret.enc.json');
const PLAINTEXTS = ['sekrit-7f3a9c-DISTINCT', 'this is a secret', 'gotta match go'];

/** A snapshot of byte files (binary age files are not valid UTF-8), counting reads. */
function snapshot(files: Record<string, string | Buffer>, revision = 'rev1'): RepoSnapshot & { reads: string[] } {
  const bytes = new Map(Object.entries(files).map(([k, v]) => [k, Buffer.isBuffer(v) ? v : Buffer.from(v)]));
  const reads: string[] = [];
  return {
    revision, reads,
    async list(dir) {
      const prefix = dir === '' || dir === '.' ? '' : `${dir.replace(/\/$/, '')}/`;
      return [...bytes.keys()].filter((p) => p.startsWith(prefix)).sort().map((path): TreeEntry => ({ path, mode: 0o100644, size: bytes.get(path)!.length }));
    },
    async read(path) {
      reads.push(path);
      const b = bytes.get(path);
      if (!b) throw new Error(`no ${path}`);
      return b;
    },
    async treeId() { return null; },
  };
}

const secret = (name: string, file: string, extra = ''): string => `apiVersion: berth/v1\nkind: Secret\nmetadata: { name: ${name}, namespace: shop }\nspec: { file: ${file}${extra} }\n`;
const service = (secrets: string): string => `apiVersion: berth/v1\nkind: Service\nmetadata: { name: web, namespace: shop }\nspec:\n  image: busybox:1\n  secrets: ${secrets}\n`;

async function issues(files: Record<string, string | Buffer>, path = '.'): Promise<string[]> {
  try {
    await loadDesired(snapshot(files), { instance: 'i', path });
  } catch (err) {
    if (err instanceof ValidationError) return err.issues.map((i) => `${i.file}:${i.line}:${i.col}: ${i.field}: ${i.message}`);
    throw err;
  }
  throw new Error('expected a ValidationError');
}

describe('kind Secret (loader)', () => {
  it('puts the ciphertext and its sha256 in the desired state, and the references with the hash on the service', async () => {
    const snap = snapshot({
      'deploy/secrets.yaml': `${secret('token', '../secrets/token.age')}---\n${secret('db', '../secrets/db.enc.yaml')}---\n${secret('bin', '../secrets/bin.age')}---\n${secret('js', '../secrets/x.enc.json')}`,
      'deploy/web.yaml': service('[{ secret: token }, { secret: db, key: complex.value, target: /etc/app/db-password, mode: "0440", uid: 1000, gid: 1000 }]'),
      'secrets/token.age': AGE, 'secrets/db.enc.yaml': SOPS, 'secrets/bin.age': AGE_BINARY, 'secrets/x.enc.json': SOPS_JSON,
    });
    const desired = await loadDesired(snap, { instance: 'i', path: 'deploy' });
    expect(desired.secrets?.map((s) => [s.key, s.file, s.format])).toEqual([
      ['shop/bin', 'secrets/bin.age', 'age'],
      ['shop/db', 'secrets/db.enc.yaml', 'sops-yaml'],
      ['shop/js', 'secrets/x.enc.json', 'sops-json'],
      ['shop/token', 'secrets/token.age', 'age'],
    ]);
    const token = desired.secrets!.find((s) => s.name === 'token')!;
    expect(token.contentHash).toBe(createHash('sha256').update(AGE).digest('hex'));
    expect(Buffer.from(token.ciphertext, 'base64').equals(AGE)).toBe(true);
    expect(desired.services[0]?.secrets).toEqual([
      { secret: 'token', target: '/run/secrets/token', mode: '0400', file: 'secrets/token.age', contentHash: token.contentHash },
      { secret: 'db', key: 'complex.value', target: '/etc/app/db-password', mode: '0440', uid: 1000, gid: 1000, file: 'secrets/db.enc.yaml', contentHash: createHash('sha256').update(SOPS).digest('hex') },
    ]);
    // Nothing decrypted: no plaintext anywhere in the desired state.
    const text = JSON.stringify(desired);
    for (const p of PLAINTEXTS) expect(text).not.toContain(p);
  });

  it('gives the same result in the validation worker', async () => {
    const files = { 's.yaml': secret('token', 'token.age'), 'w.yaml': service('[{ secret: token, key: value }]'), 'token.age': AGE };
    const inProcess = await loadDesired(snapshot(files), { instance: 'i', path: '.' });
    const inWorker = await loadDesired(snapshot(files), { instance: 'i', path: '.', isolation: 'worker' });
    expect(inWorker.secrets).toEqual(inProcess.secrets);
    expect(inWorker.services).toEqual(inProcess.services);
    expect(inProcess.services[0]?.secrets?.[0]?.target).toBe('/run/secrets/token/value');
  });

  it('leaves the desired state of a revision without Secrets as it was', async () => {
    const desired = await loadDesired(snapshot({ 'w.yaml': 'apiVersion: berth/v1\nkind: Service\nmetadata: { name: web }\nspec: { image: busybox:1 }\n' }), { instance: 'i', path: '.' });
    expect(desired.secrets).toBeUndefined();
    expect(desired.services[0]?.secrets).toBeUndefined();
    expect(desired.services[0]?.spec.secrets).toBeUndefined();
  });

  it('reports a missing file at spec.file', async () => {
    expect(await issues({ 's.yaml': secret('token', 'secrets/token.age') })).toEqual([
      's.yaml:4:15: spec.file: secrets/token.age does not exist at revision rev1',
    ]);
  });

  it('reports a plain file as not encrypted, without quoting it', async () => {
    // Encrypted YAML lives outside the manifests path (or in a hidden directory): every *.yaml under it is a manifest.
    const found = await issues({ 's.yaml': secret('token', 'token.txt'), 'token.txt': 'sekrit-7f3a9c-DISTINCT\n', 'd.yaml': secret('db', '.secrets/db.yaml'), '.secrets/db.yaml': 'password: sekrit-7f3a9c-DISTINCT\n' });
    expect(found).toHaveLength(2);
    for (const f of found) {
      expect(f).toMatch(/spec\.file: not encrypted: (token\.txt|\.secrets\/db\.yaml) is not a SOPS document or an age file/);
      expect(f).not.toContain('sekrit');
    }
  });

  it('checks a declared format', async () => {
    const [issue] = await issues({ 's.yaml': secret('db', '.secrets/db.enc.yaml', ', format: age'), '.secrets/db.enc.yaml': SOPS });
    expect(issue).toMatch(/spec\.file: not encrypted: \.secrets\/db\.enc\.yaml is not an age file/);
  });

  it('refuses a file outside the repository', async () => {
    const [issue] = await issues({ 'deploy/s.yaml': secret('token', '../../token.age') }, 'deploy');
    expect(issue).toMatch(/deploy\/s\.yaml:4:15: spec\.file: \.\.\/\.\.\/token\.age leaves the repository/);
  });

  it('reports a reference to a Secret the namespace does not have', async () => {
    const found = await issues({ 'w.yaml': service('[{ secret: nope }]'), 's.yaml': secret('token', 'token.age').replace('namespace: shop', 'namespace: other'), 'token.age': AGE });
    expect(found).toEqual(['w.yaml:6:23: spec.secrets[0].secret: no Secret "nope" in namespace "shop"']);
  });

  it('reports duplicate and unsafe targets', async () => {
    const found = await issues({ 'w.yaml': service('[{ secret: token }, { secret: token, target: /run/secrets/token }, { secret: token, key: value, target: /run/../etc/x }]'), 's.yaml': secret('token', 'token.age'), 'token.age': AGE });
    expect(found.join('\n')).toMatch(/spec\.secrets\[1\]\.target: duplicate target \/run\/secrets\/token \(also spec\.secrets\[0\]\)/);
    expect(found.join('\n')).toMatch(/spec\.secrets\[2\]\.target: target "\/run\/\.\.\/etc\/x" must be an absolute, normalised path/);
  });

  it('changes the spec hash of the services using a Secret when its file changes, and only theirs', async () => {
    const base = {
      's.yaml': secret('token', 'token.age'),
      'w.yaml': service('[{ secret: token }]'),
      'o.yaml': 'apiVersion: berth/v1\nkind: Service\nmetadata: { name: other, namespace: shop }\nspec: { image: busybox:1 }\n',
    };
    const one = await loadDesired(snapshot({ ...base, 'token.age': AGE }), { instance: 'i', path: '.' });
    const two = await loadDesired(snapshot({ ...base, 'token.age': AGE_BINARY }), { instance: 'i', path: '.' });
    const hash = (d: typeof one, name: string) => d.services.find((s) => s.name === name)?.specHash;
    expect(hash(two, 'web')).not.toBe(hash(one, 'web'));
    expect(hash(two, 'other')).toBe(hash(one, 'other'));
    const again = await loadDesired(snapshot({ ...base, 'token.age': AGE }), { instance: 'i', path: '.' });
    expect(hash(again, 'web')).toBe(hash(one, 'web'));
  });

  it('reads each Secret file from the snapshot (never anything else) and needs no key', async () => {
    const snap = snapshot({ 's.yaml': secret('token', 'token.age'), 'token.age': AGE });
    await loadDesired(snap, { instance: 'i', path: '.' });
    expect(snap.reads.filter((p) => !p.endsWith('.yaml'))).toEqual(['token.age']);
  });

  it('refuses a key the Secret does not have, at spec.secrets[i].key, read from the SOPS keys in clear (no decryption)', async () => {
    const files = { 'db.yaml': secret('db', 'secrets/db.enc.yaml'), 'tok.yaml': secret('tok', 'secrets/token.age'), 'secrets/db.enc.yaml': SOPS, 'secrets/token.age': AGE };
    expect(await issues({ ...files, 'web.yaml': service('[{ secret: db, key: complex.nope }, { secret: tok, key: password }]') })).toEqual([
      'web.yaml:6:32: spec.secrets[0].key: Secret shop/db (secrets/db.enc.yaml) has no item "complex.nope" (items: secret, string, int, float, boolean, complex.value, complex.array.0, complex.array.1, complex.array.2)',
      'web.yaml:6:68: spec.secrets[1].key: Secret shop/tok (secrets/token.age) has no item "password" (items: value)',
    ]);
    const ok = await loadDesired(snapshot({ ...files, 'web.yaml': service('[{ secret: db, key: complex.array.1 }, { secret: tok, key: value }]') }), { instance: 'i', path: '.' });
    expect(ok.services[0]?.secrets?.map((m) => m.key)).toEqual(['complex.array.1', 'value']);
  });
});

describe('spec.secrets[].env (loader)', () => {
  const files = { 'secrets.yaml': `${secret('tok', 'token.age')}`, 'token.age': AGE };
  it('is a reference without target; its variable name is in the spec hash', async () => {
    const asEnv = await loadDesired(snapshot({ ...files, 'web.yaml': service('[{ secret: tok, env: API_TOKEN }]') }), { instance: 'i', path: '.' });
    expect(asEnv.services[0]?.secrets?.map((m) => m.env)).toEqual(['API_TOKEN']);
    const renamed = await loadDesired(snapshot({ ...files, 'web.yaml': service('[{ secret: tok, env: TOKEN }]') }), { instance: 'i', path: '.' });
    expect(renamed.services[0]!.specHash).not.toBe(asEnv.services[0]!.specHash);
  });

  it('refuses file fields with env, a variable spec.env sets too, and one variable twice, at the field', async () => {
    const web = `apiVersion: berth/v1\nkind: Service\nmetadata: { name: web, namespace: shop }\nspec:\n  image: busybox:1\n  env: { API_TOKEN: x }\n  secrets:\n    - { secret: tok, env: API_TOKEN }\n    - { secret: tok, env: OTHER, target: /run/x, mode: "0440" }\n    - { secret: tok, env: OTHER }\n`;
    expect(await issues({ ...files, 'web.yaml': web })).toEqual([
      'web.yaml:8:27: spec.secrets[0].env: API_TOKEN is also set in spec.env',
      'web.yaml:9:42: spec.secrets[1].target: a Secret delivered as the environment variable OTHER has no target (it is not a file)',
      'web.yaml:9:56: spec.secrets[1].mode: a Secret delivered as the environment variable OTHER has no mode (it is not a file)',
      'web.yaml:10:27: spec.secrets[2].env: OTHER is also the env of spec.secrets[1]',
    ]);
  });
});
