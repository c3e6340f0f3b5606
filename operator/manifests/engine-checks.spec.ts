import { describe, expect, it } from 'vitest';
import type { ManifestIssue } from '../model/errors.ts';
import { ARG_MAX_BYTES, CREATE_BUDGET_BYTES } from './engine-checks.ts';
import { mountPathProblem } from './mount-checks.ts';
import { parseManifests } from './parse.ts';

/** One Service document with the given `spec` mapping (JSON is YAML) and metadata labels. */
function service(spec: Record<string, unknown>, labels: Record<string, string> = {}): string {
  return JSON.stringify({ apiVersion: 'berth/v1', kind: 'Service', metadata: { name: 'web', labels }, spec: { image: 'web', ...spec } });
}

function issuesOf(content: string): ManifestIssue[] {
  return parseManifests([{ path: 'a.yaml', content }]).issues;
}

const fields = (issues: ManifestIssue[]): string[] => issues.map((i) => `${i.code} ${i.field}`);

describe('what the engine refuses in a Service', () => {
  // (The loader refuses a scalar of 128 KiB of source characters on its own: these stay below it in characters.)
  it('refuses an environment entry or argument longer than a process takes (128 KiB with its NUL)', () => {
    const name = 'A_LONG_NAME';
    const fits = 'x'.repeat(ARG_MAX_BYTES - name.length - 2);
    const halfFit = 'é'.repeat(ARG_MAX_BYTES / 2 - 1);
    expect(issuesOf(service({ env: { [name]: fits }, command: [halfFit] }))).toEqual([]);
    const issues = issuesOf(service({ env: { [name]: `${fits}x` }, command: [`${halfFit}é`] }));
    expect(fields(issues)).toEqual([`E_SEMANTIC spec.env.${name}`, 'E_SEMANTIC spec.command[0]']);
  });

  it('counts bytes, not characters', () => {
    const issues = issuesOf(service({ env: { A: 'é'.repeat(ARG_MAX_BYTES / 2) } }));
    expect(fields(issues)).toEqual(['E_SEMANTIC spec.env.A']);
  });

  it('refuses probe commands and script arguments that are too long', () => {
    const long = 'é'.repeat(ARG_MAX_BYTES / 2);
    const health = { liveness: { exec: { command: ['sh', long] } }, readiness: { script: { file: 'c.sh', args: [long] } } };
    expect(fields(issuesOf(service({ health })))).toEqual(['E_SEMANTIC spec.health.liveness.exec.command[1]', 'E_SEMANTIC spec.health.readiness.script.args[0]']);
  });

  it('refuses env, command and labels too large for one create request, at the largest part', () => {
    const env = Object.fromEntries(Array.from({ length: 8 }, (_, i) => [`V${i}`, 'x'.repeat(100_000)]));
    expect(issuesOf(service({ env }))).toMatchObject([{ code: 'E_SEMANTIC', field: 'spec.env' }]);
    const fits = Object.fromEntries(Array.from({ length: 6 }, (_, i) => [`V${i}`, 'x'.repeat(Math.floor(CREATE_BUDGET_BYTES / 6) - 100)]));
    expect(issuesOf(service({ env: fits }))).toEqual([]);
  });

  it('refuses NUL characters in any string or key, however deep', () => {
    const issues = issuesOf(service({ env: { 'A\0': 'v' }, command: ['a\0'], volumes: [{ volume: 'd', mountPath: '/d\0' }] }, { k: 'v\0' }));
    expect(fields(issues).filter((f) => !f.endsWith('.volume'))).toEqual([
      'E_SEMANTIC metadata.labels.k', 'E_SEMANTIC spec.env["A\\u0000"]', 'E_SEMANTIC spec.command[0]', 'E_SEMANTIC spec.volumes[0].mountPath',
    ]);
    const deep = issuesOf(`${service({})}\n---\n${JSON.stringify({ apiVersion: 'berth/v1', kind: 'Service', metadata: { name: 'x' }, spec: { image: 'a', bad: [[[['\0']]]] } })}`);
    expect(deep.map((i) => i.code)).toEqual(['E_SCHEMA', 'E_SEMANTIC']);
  });

  it('refuses header values with CR, LF or other control characters; a tab passes', () => {
    const http = (headers: Record<string, string>) => ({ ports: [{ port: 80 }], health: { readiness: { http: { path: '/', port: 80, headers } } } });
    expect(issuesOf(service(http({ 'X-A': 'a\tb', 'X-B': 'café' })))).toEqual([]);
    expect(fields(issuesOf(service(http({ 'X-A': 'a\r\nX-Evil: 1', 'X-B': 'a\u0007' }))))).toEqual([
      'E_SEMANTIC spec.health.readiness.http.headers.X-A', 'E_SEMANTIC spec.health.readiness.http.headers.X-B',
    ]);
    expect(fields(issuesOf(service(http({ 'X-A': 'x'.repeat(8193) }))))).toEqual(['E_SCHEMA spec.health.readiness.http.headers.X-A']);
  });

  it('bounds label keys (1 to 255 characters) and values (4096)', () => {
    expect(issuesOf(service({}, { ['k'.repeat(255)]: 'v'.repeat(4096) }))).toEqual([]);
    expect(fields(issuesOf(service({}, { '': 'v', ['k'.repeat(256)]: 'v', ok: 'v'.repeat(4097) })))).toEqual([
      'E_SCHEMA metadata.labels[""]', `E_SCHEMA metadata.labels.${'k'.repeat(256)}`, 'E_SCHEMA metadata.labels.ok',
    ]);
  });

  it('refuses image references the engine cannot parse', () => {
    expect(issuesOf(service({ image: 'Not A Valid:Ref' }))).toMatchObject([{ code: 'E_SEMANTIC', field: 'spec.image', line: 1 }]);
  });
});

describe('mountPathProblem', () => {
  it.each(['/data', '/var/lib/app', '/dev/shm', '/sys', '/etc', '/run', '/tmp', '/a:b', '/a,b', '/a b', '/é'])('accepts %s', (p) => {
    expect(mountPathProblem(p)).toBeUndefined();
  });

  it.each([
    ['/', /root/], ['data', /absolute/], ['/a/../b', /"\."/], ['/..', /"\."/], ['/./a', /"\."/], ['/data/', /written \/data/], ['//data', /written \/data/],
    ['/a\nb', /control/], ['/proc', /proc/], ['/proc/sys', /proc/], ['/sys/x', /sys/], ['/dev', /dev/], ['/etc/hosts', /file/],
    ['/etc/hostname', /file/], ['/etc/resolv.conf', /file/], ['/sbin', /docker-init/], ['/sbin/docker-init', /docker-init/],
    [`/${'a'.repeat(256)}`, /255/], [`/${'a/'.repeat(129)}a`, /segments/], [`/${'abcdefgh/'.repeat(460)}x`, /4095/],
  ])('refuses %j', (p, message) => {
    expect(mountPathProblem(p)).toMatch(message);
  });
});
