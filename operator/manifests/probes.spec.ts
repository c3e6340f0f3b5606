import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { ManifestIssue } from '../model/errors.ts';
import type { ServiceManifest } from '../model/manifest.ts';
import { buildDesired } from './desired.ts';
import { parseManifests } from './parse.ts';
import { PROBE_DEFAULTS, UPDATE_DEFAULTS, toHealth, toUpdate } from './probes.ts';
import { DURATION_PATTERN } from './quantity.ts';

const URL_PATH_MESSAGE = "must be a URL path starting with '/': at most 2048 printable ASCII characters, no spaces (percent-encode others, e.g. %20)";

/** Issues as [code, line, col, field, message] for compact assertions. */
function where(issues: ManifestIssue[]): [string, number, number, string, string][] {
  return issues.map((i) => [i.code, i.line, i.col, i.field, i.message]);
}

/** One Service document named `name`, with the given lines under `spec:` (image set). */
function service(specLines: string[], name = 'web'): string {
  return ['apiVersion: berth/v1', 'kind: Service', `metadata: { name: ${name} }`, 'spec:', '  image: x', ...specLines.map((l) => `  ${l}`)].join('\n');
}

function parseService(specLines: string[]): { m: ServiceManifest | undefined; issues: ManifestIssue[] } {
  const { manifests, issues } = parseManifests([{ path: 'a.yaml', content: service(specLines) }]);
  const m = manifests[0];
  return { m: m?.kind === 'Service' ? m : undefined, issues };
}

describe('probe and update defaults', () => {
  it('fills Kubernetes defaults for a probe that only names its kind', () => {
    const { m, issues } = parseService(['ports: [{ port: 80 }]', 'health: { readiness: { tcp: { port: 80 } } }']);
    expect(issues).toEqual([]);
    expect(m?.spec.health).toEqual({ readiness: { tcp: { port: 80 }, ...PROBE_DEFAULTS } });
    expect(PROBE_DEFAULTS).toEqual({ intervalMs: 10_000, timeoutMs: 1000, initialDelayMs: 0, failureThreshold: 3, successThreshold: 1 });
  });

  it('defaults http scheme and headers, script args, and leaves expectStatus absent', () => {
    const health = toHealth({ readiness: { http: { path: '/', port: 80 } }, liveness: { script: { file: 'c.sh' } } });
    expect(health.readiness?.http).toEqual({ path: '/', port: 80, scheme: 'http', headers: {} });
    expect(health.liveness?.script).toEqual({ file: 'c.sh', args: [] });
    expect(health.startup).toBeUndefined();
  });

  it('defaults the update strategy, and converts monitor to milliseconds', () => {
    expect(toUpdate(undefined)).toEqual({ order: 'start-first', parallelism: 1, monitorMs: 5000, failureAction: 'rollback', maxFailureRatio: 0 });
    expect(toUpdate(undefined)).toEqual(UPDATE_DEFAULTS);
    expect(toUpdate({ monitor: '1m30s', failureAction: 'pause' })).toMatchObject({ monitorMs: 90_000, failureAction: 'pause' });
  });

  it('reports a duration that overflows after the schema accepted it, at that field', () => {
    const { issues } = parseService(['health:', '  liveness: { exec: { command: [x] }, interval: 9007199254740991 }']);
    expect(where(issues)).toEqual([['E_SCHEMA', 7, 51, 'spec.health.liveness.interval', 'invalid duration quantity 9007199254740991']]);
  });
});

describe('probe schema', () => {
  it('requires integer thresholds >= 1 and a valid expectStatus', () => {
    const { issues } = parseService([
      'ports: [{ port: 80 }]',
      'health:',
      '  readiness: { http: { path: /h, port: 80, expectStatus: [99, 200, 200] }, failureThreshold: 1.5, successThreshold: 0 }',
      '  liveness: { http: { path: /h, port: 80, expectStatus: [] } }',
    ]);
    expect(issues.map((i) => [i.field, i.message])).toEqual([
      ['spec.health.readiness.http.expectStatus[0]', 'must be >= 100'],
      ['spec.health.readiness.http.expectStatus[2]', 'duplicate of spec.health.readiness.http.expectStatus[1]'],
      ['spec.health.readiness.failureThreshold', 'must be integer'],
      ['spec.health.readiness.successThreshold', 'must be >= 1'],
      ['spec.health.liveness.http.expectStatus', 'must have at least 1 item'],
    ]);
  });

  it('requires an http path starting with "/" and a port', () => {
    const { issues } = parseService(['health: { readiness: { http: { path: healthz } }, liveness: { http: { path: "/a b", port: 80 } } }']);
    expect(issues.map((i) => [i.field, i.message])).toEqual([
      ['spec.health.readiness.http.port', 'is required'],
      ['spec.health.readiness.http.path', URL_PATH_MESSAGE],
      ['spec.health.liveness.http.path', URL_PATH_MESSAGE],
    ]);
  });

  it('uses one pattern for durations in the code and in the JSON Schema', () => {
    const schema = JSON.parse(readFileSync(new URL('../../schemas/service.schema.json', import.meta.url), 'utf8')) as { definitions: { duration: { pattern: string } } };
    expect(schema.definitions.duration.pattern).toBe(DURATION_PATTERN);
  });

  it('still rejects an unknown field next to the probes, inside spec.placement', () => {
    const { issues } = parseService(['placement: { strategy: spread, spreadBy: zone }']);
    expect(issues.map((i) => [i.code, i.field])).toEqual([['E_SCHEMA', 'spec.placement.spreadBy']]);
  });
});

describe('probe semantic checks', () => {
  it('reports one issue at the probe when it sets no kind or several, and builds no manifest', () => {
    const { m, issues } = parseService(['health:', '  readiness: { interval: 2s }', '  liveness: { tcp: { port: 80 }, exec: { command: [x] } }']);
    expect(m).toBeUndefined();
    expect(where(issues)).toEqual([
      ['E_SEMANTIC', 7, 5, 'spec.health.readiness', 'a probe needs exactly one of http, tcp, exec, script; found none'],
      ['E_SEMANTIC', 8, 5, 'spec.health.liveness', 'a probe needs exactly one of http, tcp, exec, script; found 2: tcp, exec'],
    ]);
  });

  it('checks probe ports against the declared tcp ports', () => {
    const ok = parseService(['ports: [{ port: 53, protocol: udp }, { port: 53 }]', 'health: { readiness: { tcp: { port: 53 } } }']);
    expect(ok.issues).toEqual([]);
    const bad = parseService(['ports: [{ port: 8080 }]', 'health: { readiness: { http: { path: /h, port: 9090 } } }']);
    expect(bad.issues.map((i) => `${i.line}:${i.col}: ${i.field}: ${i.message}`)).toEqual([
      "7:50: spec.health.readiness.http.port: port 9090 is not one of the service's ports (8080)",
    ]);
  });

  it('accepts timeout equal to interval and a readiness successThreshold above 1', () => {
    const { issues } = parseService(['health: { readiness: { exec: { command: [x] }, interval: 2s, timeout: 2s, successThreshold: 3 } }']);
    expect(issues).toEqual([]);
  });

  it('rejects header names that are not HTTP tokens, at the key', () => {
    const { issues } = parseService(['ports: [{ port: 80 }]', 'health: { readiness: { http: { path: /, port: 80, headers: { "X Probe": a, X-Ok: b } } } }']);
    expect(where(issues)).toEqual([['E_SEMANTIC', 7, 64, 'spec.health.readiness.http.headers["X Probe"]', '"X Probe" is not a valid HTTP header name']]);
  });
});

describe('spec hash', () => {
  it('does not change with health probes or update settings', () => {
    const hashOf = (specLines: string[]): string => {
      const { manifests, issues } = parseManifests([{ path: 'a.yaml', content: service(['ports: [{ port: 80 }]', ...specLines]) }]);
      expect(issues).toEqual([]);
      const [svc] = buildDesired('i', 'rev', manifests, new Map()).services;
      if (!svc) throw new Error('expected a service');
      return svc.specHash;
    };
    const base = hashOf([]);
    expect(hashOf(['health: { readiness: { tcp: { port: 80 } } }'])).toBe(base);
    expect(hashOf(['health: { liveness: { http: { path: /h, port: 80 }, interval: 1s, failureThreshold: 9 }, startup: { exec: { command: [x] } } }'])).toBe(base);
    expect(hashOf(['update: { order: stop-first, parallelism: 3, monitor: 1m, failureAction: pause, maxFailureRatio: 0.5 }'])).toBe(base);
    expect(hashOf(['restart: { policy: never }'])).not.toBe(base);
  });
});
