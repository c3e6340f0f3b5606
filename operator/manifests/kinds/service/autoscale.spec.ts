/** spec.autoscale: defaults, and the bad inputs of the issue rejected at file:line:col with their field. */
import { describe, expect, it } from 'vitest';
import { parseManifests } from '../../parse.ts';
import { formatIssue } from '../../../model/errors.ts';
import type { ServiceManifest } from '../../../model/manifest.ts';

const service = (spec: string) => `apiVersion: berth/v1\nkind: Service\nmetadata: { name: web, namespace: shop }\nspec:\n  image: web:1\n${spec}`;
const issues = (spec: string, more = '') => parseManifests([{ path: 'web.yaml', content: service(spec) + more }]).issues.map(formatIssue);

describe('spec.autoscale', () => {
  it('takes the HPA defaults: min 1, up by max(100 %, 4) per 15 s at once, down by 100 % per 15 s after 5 min', () => {
    const { manifests, issues: found } = parseManifests([{ path: 'web.yaml', content: service('  resources: { cpu: 0.5 }\n  autoscale: { max: 10, metrics: [{ cpu: 70% }] }\n') }]);
    expect(found).toEqual([]);
    expect((manifests[0] as ServiceManifest).spec.autoscale).toEqual({
      min: 1, max: 10, metrics: [{ type: 'cpu', percent: 70 }],
      scaleUp: { stabilizationMs: 0, maxStepPercent: 100, maxStepReplicas: 4, periodMs: 15_000 },
      scaleDown: { stabilizationMs: 300_000, maxStepPercent: 100, maxStepReplicas: 0, periodMs: 15_000 },
    });
  });

  it('reads every metric, behavior and scale to zero', () => {
    const { manifests, issues: found } = parseManifests([{ path: 'web.yaml', content: service([
      '  resources: { cpu: 0.5, memory: 64Mi }',
      '  loadBalancer: { publish: { port: 18080 } }',
      '  ports: [{ port: 80 }]',
      '  autoscale:',
      '    min: 0',
      '    max: 20',
      '    metrics: [{ cpu: 70% }, { memory: 80.5% }, { requestsPerSecond: 50 }, { concurrency: 10 }, { latencyP95: 200ms }]',
      '    behavior: { scaleUp: { maxStep: 3, period: 10s }, scaleDown: { stabilization: 1m, maxStep: 50% } }',
      '    scaleToZero: { after: 2m }',
      '',
    ].join('\n')) }]);
    expect(found).toEqual([]);
    expect((manifests[0] as ServiceManifest).spec.autoscale).toEqual({
      min: 0, max: 20,
      metrics: [{ type: 'cpu', percent: 70 }, { type: 'memory', percent: 80.5 }, { type: 'requestsPerSecond', value: 50 }, { type: 'concurrency', value: 10 }, { type: 'latencyP95', ms: 200 }],
      scaleUp: { stabilizationMs: 0, maxStepPercent: 0, maxStepReplicas: 3, periodMs: 10_000 },
      scaleDown: { stabilizationMs: 60_000, maxStepPercent: 50, maxStepReplicas: 0, periodMs: 15_000 },
      scaleToZeroAfterMs: 120_000,
    });
  });

  it('rejects min > max, max 0, negative and zero targets and an unknown metric at their lines', () => {
    expect(issues('  autoscale:\n    min: 5\n    max: 2\n    metrics: [{ concurrency: 0 }, { cpu: -5% }, { gpu: 50% }, { cpu: 0% }]\n  loadBalancer: { publish: { port: 18080 } }\n  ports: [{ port: 80 }]\n  resources: { cpu: 1 }\n')).toEqual([
      'web.yaml:9:30: spec.autoscale.metrics[0].concurrency: must be > 0',
      'web.yaml:9:42: spec.autoscale.metrics[1].cpu: must be a percentage such as 70%',
      'web.yaml:9:51: spec.autoscale.metrics[2].gpu: unknown field (allowed: cpu, memory, requestsPerSecond, concurrency, latencyP95)',
    ]);
    expect(issues('  autoscale: { min: 5, max: 2, metrics: [{ cpu: 0% }] }\n  resources: { cpu: 1 }\n')).toEqual([
      'web.yaml:6:21: spec.autoscale.min: min 5 is above max 2',
      'web.yaml:6:49: spec.autoscale.metrics[0].cpu: must be more than 0%',
    ]);
    expect(issues('  autoscale: { max: 0, metrics: [{ cpu: 50% }] }\n  resources: { cpu: 1 }\n')).toEqual(['web.yaml:6:21: spec.autoscale.max: must be >= 1']);
  });

  it('needs the matching resources request for cpu and memory, and the proxy in front for traffic metrics and min 0', () => {
    expect(issues('  autoscale: { min: 0, max: 3, metrics: [{ cpu: 50% }, { memory: 50% }, { requestsPerSecond: 5 }] }\n')).toEqual([
      "web.yaml:6:21: spec.autoscale.min: scale to zero needs berth's proxy in front to hold the first request: loadBalancer.publish, a ports[].publish or a Route",
      "web.yaml:6:49: spec.autoscale.metrics[0].cpu: a cpu target is a percentage of the replica's cpu request: set spec.resources.cpu",
      "web.yaml:6:66: spec.autoscale.metrics[1].memory: a memory target is a percentage of the replica's memory request: set spec.resources.memory",
      "web.yaml:6:94: spec.autoscale.metrics[2].requestsPerSecond: requestsPerSecond is measured at berth's proxy: the service needs loadBalancer.publish, a ports[].publish or a Route in front of it",
    ]);
    // A Route backend is fronted by the proxy.
    const route = '---\napiVersion: berth/v1\nkind: Route\nmetadata: { name: r, namespace: shop }\nspec:\n  publish: { port: 18000 }\n  rules: [{ backends: [{ service: web }] }]\n';
    expect(issues('  ports: [{ port: 80 }]\n  autoscale: { min: 0, max: 3, metrics: [{ concurrency: 5 }] }\n', route)).toEqual([]);
  });

  it('refuses scaleToZero without min 0, and a max above 1 with a hostPort', () => {
    expect(issues('  ports: [{ port: 80, hostPort: 8080 }]\n  autoscale: { max: 3, metrics: [{ cpu: 50% }], scaleToZero: { after: 1m } }\n  resources: { cpu: 1 }\n')).toEqual([
      'web.yaml:6:33: spec.ports[0].hostPort: a service with hostPort runs at most 1 replica: autoscale max is 3',
      'web.yaml:7:49: spec.autoscale.scaleToZero: scaleToZero needs min: 0',
    ]);
  });
});
