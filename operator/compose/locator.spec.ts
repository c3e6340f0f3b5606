import { describe, expect, it } from 'vitest';
import { PathMap, mappedLocator } from './locator.ts';
import { parseComposeFile, resolveMergeKeys } from './index.ts';
import type { DocLocator, PathSegment } from '../manifests/yaml-source.ts';

describe('PathMap', () => {
  it('maps by the longest registered prefix and appends the rest; unmapped paths go to the base', () => {
    const map = new PathMap();
    map.add(['spec'], ['services', 'web']);
    map.add(['spec', 'replicas'], ['services', 'web', 'deploy', 'replicas']);
    map.add(['spec', 'env', 'A'], ['services', 'web', 'environment', 2]);
    expect(map.resolve(['spec', 'replicas'], ['services', 'web'])).toEqual(['services', 'web', 'deploy', 'replicas']);
    expect(map.resolve(['spec', 'env', 'A'], ['x'])).toEqual(['services', 'web', 'environment', 2]);
    expect(map.resolve(['spec', 'image'], ['x'])).toEqual(['services', 'web', 'image']);
    expect(map.resolve(['metadata', 'name'], ['services', 'web'])).toEqual(['services', 'web']);
  });

  it('tells a numeric index from a string key', () => {
    const map = new PathMap();
    map.add(['spec', 'ports', 0], ['a']);
    map.add(['spec', 'ports', '0'], ['b']);
    expect(map.resolve(['spec', 'ports', 0], [])).toEqual(['a']);
  });

  it('asks the compose locator at the mapped path', () => {
    const asked: PathSegment[][] = [];
    const inner: DocLocator = { start: { file: 'f', line: 1, col: 1 }, at: (p) => (asked.push([...p]), { file: 'f', line: p.length, col: 1 }), plainText: () => undefined };
    const map = new PathMap();
    map.add(['spec', 'replicas'], ['services', 'web', 'deploy', 'replicas']);
    const loc = mappedLocator(inner, map, ['services', 'web']);
    expect(loc.at(['spec', 'replicas'])).toEqual({ file: 'f', line: 4, col: 1 });
    expect(asked).toEqual([['services', 'web'], ['services', 'web', 'deploy', 'replicas']]);
  });
});

describe('parseComposeFile', () => {
  it('refuses an empty file and a second document', () => {
    expect(parseComposeFile({ path: 's/compose.yaml', content: '' }).issues.map((i) => i.message)).toEqual(['the compose file is empty (it needs services)']);
    expect(parseComposeFile({ path: 's/compose.yaml', content: 'services: {}\n---\nservices: {}\n' }).issues.map((i) => `${i.line}: ${i.message}`)).toEqual(['3: a compose file holds one YAML document (found a second one)']);
  });

  it('passes YAML errors through', () => {
    expect(parseComposeFile({ path: 's/compose.yaml', content: 'services:\n  web: [\n' }).issues[0]?.code).toBe('E_YAML');
  });

  it('resolves merge keys: own keys win, then the first source', () => {
    expect(resolveMergeKeys({ a: { '<<': [{ x: 1, y: 1 }, { y: 2, z: 2 }], x: 0 } })).toEqual({ a: { x: 0, y: 1, z: 2 } });
  });

  it('reports .env lines it cannot read at their line', () => {
    const r = parseComposeFile({ path: 's/compose.yaml', content: 'services:\n  web: { image: web }\n' }, { dotEnv: { path: 's/.env', content: 'A=1\nnot a line\n' } });
    expect(r.issues).toEqual([{ file: 's/.env', line: 2, col: 1, code: 'E_SEMANTIC', field: '', message: 'expected KEY=value, found "not a line"' }]);
  });
});
