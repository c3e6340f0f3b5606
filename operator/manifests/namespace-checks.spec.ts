import { describe, expect, it } from 'vitest';
import { parseManifests } from './parse.ts';
import { NAMESPACE_CONTAINERS_MAX } from './namespace-checks.ts';

/** A Service document of namespace `ns` with `replicas` and optional spec.update. */
function svc(name: string, ns: string, replicas: number, update?: string): string {
  return ['apiVersion: berth/v1', 'kind: Service', `metadata: { name: ${name}, namespace: ${ns} }`, 'spec:', '  image: web', `  replicas: ${replicas}`, ...(update ? [`  update: ${update}`] : [])].join('\n');
}

function issuesOf(...docs: string[]) {
  return parseManifests([{ path: 'a.yaml', content: docs.join('\n---\n') }]).issues;
}

describe('containers per namespace network', () => {
  it('is 900: a Linux bridge takes 1024 ports, with room for what is in flight', () => {
    expect(NAMESPACE_CONTAINERS_MAX).toBe(900);
  });

  it('counts replicas plus the start-first surge (parallelism), and accepts exactly the bound', () => {
    // 449 + 1 and 440 + 10: 900.
    expect(issuesOf(svc('a', 'big', 449), svc('b', 'big', 440, '{ parallelism: 10 }'))).toEqual([]);
  });

  it('reports the replicas field of the service that crosses the bound, naming the namespace total', () => {
    const issues = issuesOf(svc('a', 'big', 449), svc('b', 'big', 441, '{ parallelism: 10 }'), svc('c', 'big', 5));
    expect(issues.map((i) => [i.code, i.line, i.col, i.field])).toEqual([['E_SEMANTIC', 13, 13, 'spec.replicas']]);
    expect(issues[0]?.message).toContain('"big"');
    expect(issues[0]?.message).toContain('907');
  });

  it('counts no surge for stop-first and at most replicas of surge', () => {
    expect(issuesOf(svc('a', 'big', 890, '{ order: stop-first, parallelism: 100 }'), svc('b', 'big', 5, '{ parallelism: 50 }'))).toEqual([]);
  });

  it('bounds each namespace on its own', () => {
    expect(issuesOf(svc('a', 'one', 800), svc('b', 'two', 800), svc('c', 'default', 800))).toEqual([]);
  });

  it('reports a service too large on its own, even with a default replicas count elsewhere', () => {
    const issues = issuesOf(svc('huge', 'x', 100_000));
    expect(issues).toMatchObject([{ code: 'E_SEMANTIC', line: 6, field: 'spec.replicas' }]);
  });
});
