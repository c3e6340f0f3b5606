/** Which builder an engine gets, from its `GET /version` answer. */
import { describe, expect, it } from 'vitest';
import { builderFor } from './docker-build.ts';

describe('builderFor', () => {
  it('BuildKit on Docker for Linux with API >= 1.39 (dockerd 18.09+)', () => {
    expect(builderFor({ ApiVersion: '1.41', Os: 'linux', Components: [{ Name: 'Engine' }, { Name: 'containerd' }] })).toBe('buildkit');
    expect(builderFor({ ApiVersion: '1.39', Os: 'linux' })).toBe('buildkit');
    expect(builderFor({ ApiVersion: '2.0' })).toBe('buildkit');
  });

  it('the classic builder for Podman, Windows daemons, older engines and an unreadable answer', () => {
    expect(builderFor({ ApiVersion: '1.41', Os: 'linux', Components: [{ Name: 'Podman Engine' }] })).toBe('classic');
    expect(builderFor({ ApiVersion: '1.41', Os: 'windows' })).toBe('classic');
    expect(builderFor({ ApiVersion: '1.38', Os: 'linux' })).toBe('classic');
    expect(builderFor({})).toBe('classic');
  });
});
