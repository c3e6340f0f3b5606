import { describe, expect, it } from 'vitest';
import { ValidationError } from '../model/errors.ts';
import type { ManifestIssue } from '../model/errors.ts';
import type { DesiredState } from '../model/state.ts';
import { memorySnapshot } from '../source/memory-source.ts';
import { loadDesired } from './load.ts';

const service = (image: string, extra: string[] = []): string => [
  'apiVersion: berth/v1', 'kind: Service', 'metadata: { name: api, namespace: shop }', 'spec:',
  `  image: ${image}`, ...extra, '',
].join('\n');

async function load(yaml: string): Promise<DesiredState | ManifestIssue[]> {
  try {
    return await loadDesired(memorySnapshot({ 'api.yaml': yaml }, 'r1'), { instance: 'i', path: '' });
  } catch (err) {
    if (err instanceof ValidationError) return err.issues;
    throw err;
  }
}

const located = (r: DesiredState | ManifestIssue[]): string[] => (r as ManifestIssue[]).map((i) => `${i.file}:${i.line}:${i.col} ${i.field}: ${i.message}`);

describe('spec.pullPolicy', () => {
  it('defaults to Always for :latest and untagged references, IfNotPresent for tags and digests, as Kubernetes', async () => {
    const policy = async (image: string) => ((await load(service(image))) as DesiredState).services[0]?.spec.pullPolicy;
    expect(await policy('reg.example:5000/shop/api')).toBe('Always');
    expect(await policy('reg.example:5000/shop/api:latest')).toBe('Always');
    expect(await policy('reg.example:5000/shop/api:2.3')).toBe('IfNotPresent');
    expect(await policy(`shop/api@sha256:${'a'.repeat(64)}`)).toBe('IfNotPresent');
    expect(((await load(service('shop/api:2.3', ['  pullPolicy: Never']))) as DesiredState).services[0]?.spec.pullPolicy).toBe('Never');
  });

  it('refuses an unknown policy at its line', async () => {
    expect(located(await load(service('shop/api:2.3', ['  pullPolicy: Sometimes'])))[0]).toMatch(/^api\.yaml:6:\d+ spec\.pullPolicy: /);
  });
});

describe('spec.imagePolicy', () => {
  it('types a semver or pattern policy with its interval (default 5m)', async () => {
    const d = (await load(service('shop/api:2.3.0', ['  imagePolicy: { semver: ">=2.3 <3" }']))) as DesiredState;
    expect(d.services[0]?.spec.imagePolicy).toEqual({ semver: '>=2.3 <3', intervalMs: 300_000 });
    const p = (await load(service('shop/api:main-1', ['  imagePolicy:', '    pattern: "^main-(?P<n>[0-9]+)$"', '    order: numerical', '    extract: $n', '    interval: 1m']))) as DesiredState;
    expect(p.services[0]?.spec.imagePolicy).toEqual({ pattern: '^main-(?P<n>[0-9]+)$', order: 'numerical', extract: '$n', intervalMs: 60_000 });
  });

  it('rejects a policy that cannot select, at file:line:col of the field, before anything runs', async () => {
    expect(located(await load(service('shop/api:2.3.0', ['  imagePolicy: { semver: "not a range" }'])))).toEqual([expect.stringMatching(/^api\.yaml:6:\d+ spec\.imagePolicy\.semver: .*not a range/)]);
    expect(located(await load(service('shop/api:2.3.0', ['  imagePolicy:', '    pattern: "(?=x)a"'])))).toEqual([expect.stringMatching(/^api\.yaml:7:\d+ spec\.imagePolicy\.pattern: /)]);
    expect(located(await load(service('shop/api:2.3.0', ['  imagePolicy:', '    pattern: "^v([0-9]+)$"', '    extract: $2'])))).toEqual([expect.stringMatching(/^api\.yaml:8:\d+ spec\.imagePolicy\.extract: /)]);
    expect(located(await load(service('shop/api:2.3.0', ['  imagePolicy:', '    semver: ">=1"', '    interval: 1s'])))).toEqual([expect.stringMatching(/^api\.yaml:8:\d+ spec\.imagePolicy\.interval: must be at least 10s/)]);
    expect(located(await load(service('shop/api:2.3.0', ['  imagePolicy: {}'])))).toEqual([expect.stringMatching(/^api\.yaml:6:\d+ spec\.imagePolicy: needs semver or pattern/)]);
    expect(located(await load(service(`shop/api@sha256:${'b'.repeat(64)}`, ['  imagePolicy: { semver: ">=1" }'])))).toEqual([expect.stringMatching(/pinned by digest/)]);
  });
});
