import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { BerthError } from '../model/errors.ts';
import { setServiceImage } from './yaml-edit.ts';

const js = (text: string): unknown[] => parseAllDocuments(text as string).map((d) => d.toJS());

/** The output re-parses to the input's documents with only that Service's spec.image changed. */
function expectOnlyImageChanged(before: string, after: string, index: number, image: string): void {
  const want = js(before) as Array<{ spec: { image?: string } }>;
  (want[index] as { spec: { image?: string } }).spec.image = image;
  expect(js(after)).toEqual(want);
}

function configError(fn: () => unknown): BerthError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(BerthError);
    expect((err as BerthError).code).toBe('E_CONFIG');
    return err as BerthError;
  }
  throw new Error('expected a BerthError');
}

const multi = `# shop services
apiVersion: berth/v1
kind: Service
metadata:
  name: web
  namespace: shop
spec:
  image: ghcr.io/acme/web:1.2.3   # bumped by berth
  replicas: 3
---
apiVersion: berth/v1
kind: Volume
metadata: { name: web }
spec: { driver: local }
---
apiVersion: berth/v1
kind: Service
metadata:
  name: api
spec:
    image: "ghcr.io/acme/api:2.0.0"
    env:
      IMAGE: ghcr.io/acme/api:2.0.0
---
apiVersion: berth/v1
kind: Service
metadata:
  name: web
  namespace: other
spec:
  image: 'ghcr.io/acme/web:1.2.3'
`;

describe('setServiceImage', () => {
  it('replaces only the scalar of the matching document, keeping comments and the rest byte for byte', () => {
    const out = setServiceImage(multi, { name: 'web', namespace: 'shop' }, 'ghcr.io/acme/web:1.3.0');
    expect(out).toBe(multi.replace('image: ghcr.io/acme/web:1.2.3   # bumped by berth', 'image: ghcr.io/acme/web:1.3.0   # bumped by berth'));
    expectOnlyImageChanged(multi, out, 0, 'ghcr.io/acme/web:1.3.0');
  });

  it('keeps double and single quotes, and indentation', () => {
    const out = setServiceImage(multi, { name: 'api' }, 'ghcr.io/acme/api:2.1.0');
    expect(out).toBe(multi.replace('    image: "ghcr.io/acme/api:2.0.0"', '    image: "ghcr.io/acme/api:2.1.0"'));
    expectOnlyImageChanged(multi, out, 2, 'ghcr.io/acme/api:2.1.0');

    const out2 = setServiceImage(multi, { name: 'web', namespace: 'other' }, "ghcr.io/acme/web:1.3.0");
    expect(out2).toBe(multi.replace("image: 'ghcr.io/acme/web:1.2.3'", "image: 'ghcr.io/acme/web:1.3.0'"));
    expectOnlyImageChanged(multi, out2, 3, 'ghcr.io/acme/web:1.3.0');
  });

  it('matches the namespace, defaulting to "default"', () => {
    const out = setServiceImage(multi, { name: 'api', namespace: 'default' }, 'x:1');
    expectOnlyImageChanged(multi, out, 2, 'x:1');
    configError(() => setServiceImage(multi, { name: 'api', namespace: 'shop' }, 'x:1'));
  });

  it('refuses an ambiguous target (same name in two namespaces, no namespace given)', () => {
    expect(configError(() => setServiceImage(multi, { name: 'web' }, 'x:1')).message).toMatch(/more than one Service "web"/);
  });

  it('throws E_CONFIG when no such Service or no spec.image', () => {
    expect(configError(() => setServiceImage(multi, { name: 'nope' }, 'x:1')).message).toMatch(/no Service "nope"/);
    const built = 'kind: Service\nmetadata: {name: b}\nspec:\n  build: {context: .}\n';
    expect(configError(() => setServiceImage(built, { name: 'b' }, 'x:1')).message).toMatch(/has no spec\.image/);
    configError(() => setServiceImage('kind: Service\nmetadata: {name: b}\n', { name: 'b' }, 'x:1'));
    configError(() => setServiceImage('kind: Service\nmetadata: {name: b}\nspec: {image: 3}\n', { name: 'b' }, 'x:1'));
    configError(() => setServiceImage('kind: Service\nmetadata: {name: b}\nspec: {image: [a]}\n', { name: 'b' }, 'x:1'));
    configError(() => setServiceImage('kind: Service\nmetadata: {name: b\n', { name: 'b' }, 'x:1'));
    configError(() => setServiceImage('', { name: 'b' }, 'x:1'));
    // a Volume of that name is not a Service
    configError(() => setServiceImage('kind: Volume\nmetadata: {name: b}\nspec: {image: a}\n', { name: 'b' }, 'x:1'));
  });

  it('keeps CRLF line endings', () => {
    const crlf = multi.replace(/\n/g, '\r\n');
    const out = setServiceImage(crlf, { name: 'web', namespace: 'shop' }, 'ghcr.io/acme/web:1.3.0');
    expect(out).toBe(crlf.replace('ghcr.io/acme/web:1.2.3   #', 'ghcr.io/acme/web:1.3.0   #'));
    expect(out.replace(/\r\n/g, '')).not.toContain('\n');
    expectOnlyImageChanged(crlf, out, 0, 'ghcr.io/acme/web:1.3.0');
  });

  it('edits inside a flow mapping, keeping its comment', () => {
    const text = 'kind: Service\nmetadata: {name: web}\nspec: {image: a:1, replicas: 2}  # flow\n';
    const out = setServiceImage(text, { name: 'web' }, 'registry.local:5000/a:2');
    expect(out).toBe('kind: Service\nmetadata: {name: web}\nspec: {image: registry.local:5000/a:2, replicas: 2}  # flow\n');
    expectOnlyImageChanged(text, out, 0, 'registry.local:5000/a:2');
  });

  it('double-quotes a value that is not safe as plain', () => {
    const text = 'kind: Service\nmetadata: {name: web}\nspec: {image: a:1, replicas: 2}\n';
    const odd = 'a:1,b #c';
    const out = setServiceImage(text, { name: 'web' }, odd);
    expect(out).toBe('kind: Service\nmetadata: {name: web}\nspec: {image: "a:1,b #c", replicas: 2}\n');
    expectOnlyImageChanged(text, out, 0, odd);

    const block = 'kind: Service\nmetadata: {name: web}\nspec:\n  image: a:1 # c\n';
    for (const v of ['1.5', 'true', 'null', '', 'x: y', '- a', '{a}', "it's", 'with\nnewline', '"q"']) {
      const o = setServiceImage(block, { name: 'web' }, v);
      expectOnlyImageChanged(block, o, 0, v);
      expect(o.endsWith(' # c\n')).toBe(true);
      expect(o.startsWith('kind: Service\nmetadata: {name: web}\nspec:\n  image: ')).toBe(true);
    }
    expect(setServiceImage(block, { name: 'web' }, '1.5')).toBe('kind: Service\nmetadata: {name: web}\nspec:\n  image: "1.5" # c\n');
  });

  it('escapes single quotes in a single-quoted scalar', () => {
    const text = "kind: Service\nmetadata: {name: web}\nspec:\n  image: 'a:1'\n";
    const out = setServiceImage(text, { name: 'web' }, "b'c:2");
    expect(out).toBe("kind: Service\nmetadata: {name: web}\nspec:\n  image: 'b''c:2'\n");
    expectOnlyImageChanged(text, out, 0, "b'c:2");
  });

  it('replaces a block scalar by a double-quoted one, keeping the lines after it', () => {
    const text = 'kind: Service\nmetadata: {name: web}\nspec:\n  image: |-\n    a:1\n  replicas: 2\n';
    const out = setServiceImage(text, { name: 'web' }, 'b:2');
    expect(out).toBe('kind: Service\nmetadata: {name: web}\nspec:\n  image: "b:2"\n  replicas: 2\n');
    expectOnlyImageChanged(text, out, 0, 'b:2');
  });

  it('keeps an anchor on the scalar, refuses an alias', () => {
    const text = 'kind: Service\nmetadata: {name: web}\nspec:\n  image: &img a:1\n';
    expect(setServiceImage(text, { name: 'web' }, 'b:2')).toBe('kind: Service\nmetadata: {name: web}\nspec:\n  image: &img b:2\n');
    const aliased = 'x: &img a:1\nkind: Service\nmetadata: {name: web}\nspec:\n  image: *img\n';
    expect(configError(() => setServiceImage(aliased, { name: 'web' }, 'b:2')).message).toMatch(/alias/);
    // an anchored value used elsewhere would change twice: refused
    const shared = 'kind: Service\nmetadata: {name: web}\nspec:\n  image: &img a:1\n  env: {IMG: *img}\n';
    configError(() => setServiceImage(shared, { name: 'web' }, 'b:2'));
  });

  it('leaves other documents untouched even when they look alike', () => {
    const text = 'kind: Service\nmetadata: {name: a}\nspec: {image: x:1}\n...\n---\nkind: Service\nmetadata: {name: b}\nspec: {image: x:1}\n';
    const out = setServiceImage(text, { name: 'b' }, 'x:2');
    expect(out).toBe('kind: Service\nmetadata: {name: a}\nspec: {image: x:1}\n...\n---\nkind: Service\nmetadata: {name: b}\nspec: {image: x:2}\n');
    expectOnlyImageChanged(text, out, 1, 'x:2');
  });
});
