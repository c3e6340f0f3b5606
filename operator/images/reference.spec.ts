import { describe, expect, it } from 'vitest';
import { imageRefProblem } from '../manifests/image-ref.ts';
import { BerthError } from '../model/errors.ts';
import { formatImageName, isImageId, parseImageName, registryEndpoint, repositoryOf, withDigest } from './reference.ts';

const D = `sha256:${'ab12'.repeat(16)}`;
const D2 = `sha256:${'cd34'.repeat(16)}`;

describe('parseImageName', () => {
  const cases: [string, { domain: string; repository: string; tag?: string; digest?: string }][] = [
    ['nginx', { domain: 'docker.io', repository: 'library/nginx' }],
    ['nginx:1.25', { domain: 'docker.io', repository: 'library/nginx', tag: '1.25' }],
    ['nginx@' + D, { domain: 'docker.io', repository: 'library/nginx', digest: D }],
    ['nginx:1.25@' + D, { domain: 'docker.io', repository: 'library/nginx', tag: '1.25', digest: D }],
    ['shop/api', { domain: 'docker.io', repository: 'shop/api' }],
    ['shop/api:9.9', { domain: 'docker.io', repository: 'shop/api', tag: '9.9' }],
    ['a/b/c/d:v1', { domain: 'docker.io', repository: 'a/b/c/d', tag: 'v1' }],
    ['docker.io/nginx', { domain: 'docker.io', repository: 'library/nginx' }],
    ['docker.io/library/nginx:1', { domain: 'docker.io', repository: 'library/nginx', tag: '1' }],
    ['index.docker.io/nginx', { domain: 'docker.io', repository: 'library/nginx' }],
    ['index.docker.io/shop/api:2', { domain: 'docker.io', repository: 'shop/api', tag: '2' }],
    ['localhost/app', { domain: 'localhost', repository: 'app' }],
    ['localhost:5000/app:1', { domain: 'localhost:5000', repository: 'app', tag: '1' }],
    ['10.98.0.1:40123/shop/api:1', { domain: '10.98.0.1:40123', repository: 'shop/api', tag: '1' }],
    ['127.0.0.1:5000/x@' + D, { domain: '127.0.0.1:5000', repository: 'x', digest: D }],
    ['registry.example.com/team/app:latest', { domain: 'registry.example.com', repository: 'team/app', tag: 'latest' }],
    ['registry.example.com:443/team/app', { domain: 'registry.example.com:443', repository: 'team/app' }],
    ['ghcr.io/owner/repo/sub:sha-1234@' + D, { domain: 'ghcr.io', repository: 'owner/repo/sub', tag: 'sha-1234', digest: D }],
    // a first component without "." or ":" is a path component, even a host-looking one
    ['myregistry/app', { domain: 'docker.io', repository: 'myregistry/app' }],
    ['localhost/a/b/c', { domain: 'localhost', repository: 'a/b/c' }],
    // a lone "localhost" or "docker.io" is a repository name, not a domain
    ['localhost', { domain: 'docker.io', repository: 'library/localhost' }],
    ['localhost:1', { domain: 'docker.io', repository: 'library/localhost', tag: '1' }],
    ['my_reg.io/app', { domain: 'my_reg.io', repository: 'app' }],
    ['a.b__c/x-y_z.w:T_a.g-1', { domain: 'a.b__c', repository: 'x-y_z.w', tag: 'T_a.g-1' }],
    ['reg.test:5000/app:1', { domain: 'reg.test:5000', repository: 'app', tag: '1' }],
  ];
  for (const [ref, want] of cases) {
    it(ref, () => {
      expect(parseImageName(ref)).toEqual(want);
    });
  }

  it('accepts everything imageRefProblem accepts from the cases', () => {
    for (const [ref] of cases) expect(imageRefProblem(ref), ref).toBeUndefined();
  });

  it('refuses image IDs with a terminal E_PULL', () => {
    for (const id of ['ab12'.repeat(16), D]) {
      expect(isImageId(id)).toBe(true);
      let thrown: unknown;
      try {
        parseImageName(id);
      } catch (err) {
        thrown = err;
      }
      expect(thrown).toBeInstanceOf(BerthError);
      expect((thrown as BerthError).code).toBe('E_PULL');
      expect((thrown as BerthError).terminal).toBe(true);
    }
    expect(isImageId('shop/api')).toBe(false);
    expect(isImageId('ab12')).toBe(false);
  });
});

describe('registryEndpoint', () => {
  it('maps docker.io to its API host and keeps other domains', () => {
    expect(registryEndpoint('docker.io')).toBe('registry-1.docker.io');
    expect(registryEndpoint('index.docker.io')).toBe('registry-1.docker.io');
    expect(registryEndpoint('10.98.0.1:5000')).toBe('10.98.0.1:5000');
    expect(registryEndpoint('localhost')).toBe('localhost');
    expect(registryEndpoint('ghcr.io')).toBe('ghcr.io');
  });
});

describe('formatImageName', () => {
  it('writes the fully qualified form', () => {
    expect(formatImageName(parseImageName('nginx'))).toBe('docker.io/library/nginx');
    expect(formatImageName(parseImageName('nginx'), { tag: '1' })).toBe('docker.io/library/nginx:1');
    expect(formatImageName({ domain: 'r:5000', repository: 'shop/api' }, { digest: D })).toBe(`r:5000/shop/api@${D}`);
    expect(formatImageName({ domain: 'r:5000', repository: 'shop/api' }, { tag: 't', digest: D })).toBe(`r:5000/shop/api:t@${D}`);
  });

  it('round-trips through parseImageName', () => {
    for (const ref of ['nginx:1', 'shop/api@' + D, 'localhost:5000/a/b:c@' + D, 'index.docker.io/x']) {
      const n = parseImageName(ref);
      expect(parseImageName(formatImageName(n, n))).toEqual(n);
    }
  });
});

describe('withDigest', () => {
  const cases: [string, string][] = [
    ['nginx', `nginx@${D}`],
    ['nginx:1.25', `nginx@${D}`],
    [`nginx:1.25@${D2}`, `nginx@${D}`],
    [`nginx@${D2}`, `nginx@${D}`],
    ['shop/api:9.9', `shop/api@${D}`],
    ['docker.io/library/nginx:1', `docker.io/library/nginx@${D}`],
    ['localhost:5000/app', `localhost:5000/app@${D}`],
    ['localhost:5000/app:2', `localhost:5000/app@${D}`],
    ['10.98.0.1:40123/shop/api:1', `10.98.0.1:40123/shop/api@${D}`],
  ];
  for (const [ref, want] of cases) {
    it(`${ref} → ${want}`, () => {
      expect(withDigest(ref, D)).toBe(want);
      expect(imageRefProblem(want)).toBeUndefined();
      expect(parseImageName(want).digest).toBe(D);
      expect(parseImageName(want).tag).toBeUndefined();
    });
  }

  it('keeps the repository as spelled', () => {
    expect(repositoryOf(`localhost:5000/a/b:1@${D}`)).toBe('localhost:5000/a/b');
    expect(repositoryOf('localhost:5000/a/b')).toBe('localhost:5000/a/b');
    expect(repositoryOf('nginx:latest')).toBe('nginx');
  });

  it('refuses an image ID', () => {
    expect(() => withDigest(D, D2)).toThrow(BerthError);
  });
});
