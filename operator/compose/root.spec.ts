import { describe, expect, it } from 'vitest';
import { parseEntries } from '../manifests/parse.ts';

describe('compose paths under a manifests root (--path)', () => {
  it('rebases build contexts and secret files from the compose file onto the root, as berth resolves them', () => {
    const compose = [
      'services:', '  web:', '    build: ./web', '    secrets: [token]',
      'secrets:', '  token: { file: ./token.age }', '',
    ].join('\n');
    const { entries, issues } = parseEntries([{ path: 'deploy/shop/compose.yaml', content: compose }], { root: 'deploy' });
    expect(issues).toEqual([]);
    const byKind = Object.fromEntries(entries.map((e) => [e.manifest?.kind, e.manifest]));
    expect((byKind.Service as { spec: { build: { context: string } } }).spec.build.context).toBe('shop/web');
    expect((byKind.Secret as { spec: { file: string } }).spec.file).toBe('shop/token.age');
    const atRoot = parseEntries([{ path: 'shop/compose.yaml', content: compose }]);
    expect(atRoot.entries.find((e) => e.manifest?.kind === 'Service')?.manifest).toMatchObject({ spec: { build: { context: 'shop/web' } } });
  });
});
