/** Every service field (and deploy's) with values of every shape: the converter reports, it never throws. */
import { it, expect } from 'vitest';
import { readFileSync } from 'node:fs';
import { stringify } from 'yaml';
import { parseEntries } from '../manifests/parse.ts';
it('converts any shape of any field without throwing', () => {
  const schema = JSON.parse(readFileSync(new URL('../../schemas/compose-spec.json', import.meta.url), 'utf8'));
  const props = Object.keys(schema.definitions.service.properties);
  const values: unknown[] = [null, '', 'x', '0', 1, -1, 0, true, false, [], ['a'], ['a=b'], [1], {}, { a: null }, { a: 1 }, { a: 'b' }, [{}], [{ a: 1 }], [{ type: 'volume' }], [{ type: 'tmpfs' }], { test: 'x' }, { limits: {} }, ['CMD'], ['NONE'], { condition: 'x' }];
  const deploySub = Object.keys(schema.definitions.deployment.properties);
  const crashes: string[] = [];
  const run = (svc: Record<string, unknown>): void => {
    const content = stringify({ services: { web: { image: 'x', ...svc } }, volumes: { a: null } });
    try {
      parseEntries([{ path: 's/compose.yaml', content }]);
    } catch (e) {
      crashes.push(`${JSON.stringify(svc)}: ${String(e)}`);
    }
  };
  for (const p of props) for (const v of values) run({ [p]: v });
  for (const p of deploySub) for (const v of values) run({ deploy: { [p]: v } });
  for (const v of values) {
    run({ healthcheck: { test: v } });
    run({ healthcheck: { test: ['CMD', 'x'], interval: v, retries: v } });
    run({ ports: [v] });
    run({ volumes: [v] });
    run({ depends_on: { db: v } });
    run({ deploy: { resources: { limits: { cpus: v, memory: v } } } });
    run({ deploy: { update_config: { parallelism: v, order: v } } });
    run({ 'x-berth': v });
    run({ 'x-berth': { health: v, loadBalancer: v } });
  }
  expect(crashes).toEqual([]);
}, 120_000);
