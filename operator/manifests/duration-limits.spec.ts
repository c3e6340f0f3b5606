import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { ServiceManifest } from '../model/manifest.ts';
import { readyDeadlineMs } from '../reconciler/gate.ts';
import { buildDesired } from './desired.ts';
import { DURATION_MAX_MS, readyWindowMs } from './health-checks.ts';
import { parseManifests } from './parse.ts';
import { TIMER_MAX_MS } from './quantity.ts';
import { formatPath } from './path.ts';
import type { PathSegment } from './yaml-source.ts';

interface SchemaNode {
  $ref?: string;
  properties?: Record<string, SchemaNode>;
  definitions?: Record<string, SchemaNode>;
}

const KINDS = ['service', 'volume', 'route', 'node'];
const schemas = Object.fromEntries(KINDS.map((k) => [k, JSON.parse(readFileSync(new URL(`../../schemas/${k}.schema.json`, import.meta.url), 'utf8')) as SchemaNode]));

/** Paths of every field typed `#/definitions/duration` in a schema, following `$ref`s to other definitions. */
function durationPaths(root: SchemaNode, node: SchemaNode = root, path: PathSegment[] = []): PathSegment[][] {
  if (node.$ref === '#/definitions/duration') return [path];
  const ref = node.$ref?.startsWith('#/definitions/') ? root.definitions?.[node.$ref.slice('#/definitions/'.length)] : undefined;
  if (ref) return durationPaths(root, ref, path);
  return Object.entries(node.properties ?? {}).flatMap(([key, child]) => durationPaths(root, child, [...path, key]));
}

/** A valid Service with every probe, the field at `path` set to `value`. */
function serviceWith(path: PathSegment[], value: string): string {
  const doc: Record<string, unknown> = {
    apiVersion: 'berth/v1', kind: 'Service', metadata: { name: 'web' },
    spec: { image: 'web', ports: [{ port: 80 }], health: { startup: { tcp: { port: 80 } }, readiness: { tcp: { port: 80 } }, liveness: { tcp: { port: 80 } } }, update: {} },
  };
  let cur = doc;
  if (path[1] === 'imagePolicy') (doc.spec as Record<string, unknown>).imagePolicy = { semver: '>=1' };
  if (path[1] === 'autoscale') {
    Object.assign(doc.spec as Record<string, unknown>, { loadBalancer: { publish: { port: 18080 } } });
    (doc.spec as Record<string, unknown>).autoscale = { min: 0, max: 2, metrics: [{ requestsPerSecond: 1 }], behavior: { scaleUp: {}, scaleDown: {} }, scaleToZero: {} };
  }
  for (const seg of path.slice(0, -1)) cur = cur[seg] as Record<string, unknown>;
  cur[path.at(-1) as string] = value;
  return JSON.stringify(doc);
}

describe('maximum of every duration field', () => {
  const paths = durationPaths(schemas.service as SchemaNode).map((p) => formatPath(p));

  it('finds the duration fields of the schemas (a new one needs a maximum here)', () => {
    expect(paths.sort()).toEqual([
      ...['scaleDown', 'scaleUp'].flatMap((k) => ['period', 'stabilization'].map((f) => `spec.autoscale.behavior.${k}.${f}`)),
      'spec.autoscale.scaleToZero.after',
      ...['liveness', 'readiness', 'startup'].flatMap((k) => ['initialDelay', 'interval', 'timeout'].map((f) => `spec.health.${k}.${f}`)),
      'spec.imagePolicy.interval',
      'spec.stopGracePeriod',
      'spec.update.monitor',
    ]);
    for (const kind of ['volume', 'route', 'node']) expect(durationPaths(schemas[kind] as SchemaNode)).toEqual([]);
  });

  it.each(durationPaths(schemas.service as SchemaNode).map((p) => [formatPath(p), p] as const))('%s: 720h is refused at the field, naming the maximum', (field, path) => {
    const { issues } = parseManifests([{ path: 'a.yaml', content: serviceWith(path, '720h') }]);
    // (A timeout also exceeds the default interval, which is reported too.)
    const own = issues.filter((i) => i.field === field && i.message.includes('at most'));
    const max = field === 'spec.imagePolicy.interval' ? '24h' : '1h';
    expect(own).toMatchObject([{ code: 'E_SEMANTIC', file: 'a.yaml', line: 1, message: `must be at most ${max}, got 720h` }]);
    const atMax = parseManifests([{ path: 'a.yaml', content: serviceWith(path, max) }]).issues;
    expect(atMax.filter((i) => i.field === field && i.message.includes('at most'))).toEqual([]);
  });

  it('keeps every maximum far below the timer limit', () => {
    for (const max of Object.values(DURATION_MAX_MS)) expect(max).toBeLessThan(TIMER_MAX_MS / 100);
  });

  it('refuses thresholds that make the update gate wait longer than a timer can, at the failureThreshold', () => {
    const content = serviceWith(['spec', 'health', 'readiness', 'interval'], '1h').replace('"readiness":{"tcp":{"port":80},', '"readiness":{"tcp":{"port":80},"failureThreshold":1000,"timeout":"1s",');
    const { issues } = parseManifests([{ path: 'a.yaml', content }]);
    expect(issues.map((i) => [i.code, i.field])).toEqual([['E_SEMANTIC', 'spec.health.readiness.failureThreshold']]);
  });

  it('computes the ready window as the update gate does', () => {
    const content = serviceWith(['spec', 'health', 'readiness', 'interval'], '2s').replace('"startup":{"tcp":{"port":80}}', '"startup":{"tcp":{"port":80},"failureThreshold":7,"initialDelay":"3s"}');
    const { manifests, issues } = parseManifests([{ path: 'a.yaml', content }]);
    expect(issues).toEqual([]);
    const m = manifests[0] as ServiceManifest;
    const [svc] = buildDesired('i', 'r', [m], new Map()).services;
    expect(readyWindowMs(m.spec.health)).toBe(readyDeadlineMs(svc!));
  });
});
