import { describe, expect, it } from 'vitest';
import type { RegistryEndpoint } from '../registry/registry.ts';
import { toBalancerEndpoints } from './upstreams.ts';

const SVC = 'shop/web';

function replica(id: string, ready = true, extra: Partial<RegistryEndpoint> = {}): RegistryEndpoint {
  return { id, service: SVC, replica: id, node: 'local', address: `10.0.0.${id.length}`, port: 8080, weight: 1, ready, source: 'replica', metadata: {}, ...extra };
}

describe('upstreams', () => {
  it('converts ready endpoints to balancer endpoints', () => {
    expect(toBalancerEndpoints([replica('a'), replica('b', false), replica('c', true, { address: '::1', weight: 3 })])).toEqual([
      { id: 'a', address: '10.0.0.1:8080', weight: 1 },
      { id: 'c', address: '[::1]:8080', weight: 3 },
    ]);
  });
});
