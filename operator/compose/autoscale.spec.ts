/** x-berth.autoscale on a compose service: the same spec.autoscale as berth's own, errors at the compose line. */
import { describe, expect, it } from 'vitest';
import { parseEntries } from '../manifests/parse.ts';
import { formatIssue } from '../model/errors.ts';
import type { ServiceManifest } from '../model/manifest.ts';

const parse = (xBerth: string) => parseEntries([{ path: 'stack/compose.yaml', content: `services:\n  web:\n    image: web\n    ports: ["8080:80"]\n    x-berth:\n${xBerth}` }]);

describe('compose x-berth.autoscale', () => {
  it('maps onto spec.autoscale', () => {
    const r = parse('      autoscale: { min: 0, max: 4, metrics: [{ concurrency: 5 }], scaleToZero: { after: 1m } }\n');
    expect(r.issues).toEqual([]);
    expect((r.entries[0]?.manifest as ServiceManifest).spec.autoscale).toMatchObject({ min: 0, max: 4, metrics: [{ type: 'concurrency', value: 5 }], scaleToZeroAfterMs: 60_000 });
  });

  it('reports a bad target at its compose line', () => {
    expect(parse('      autoscale:\n        max: 4\n        metrics:\n          - concurrency: 0\n').issues.map(formatIssue)).toEqual([
      'stack/compose.yaml:9:26: spec.autoscale.metrics[0].concurrency: must be > 0',
    ]);
  });
});
