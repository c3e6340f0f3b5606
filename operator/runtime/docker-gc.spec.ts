import { describe, expect, it } from 'vitest';
import { isLocalEndpoint } from './docker-gc.ts';

describe('isLocalEndpoint', () => {
  it.each([
    ['unix:///var/run/docker.sock', true],
    ['http://127.0.0.1:2375', true],
    ['https://localhost:2376', true],
    ['http://::1:2375', true],
    ['https://10.0.0.2:2376', false],
    ['http://docker.example.com:2375', false],
    ['http://127.example.com:2375', false],
  ])('%s -> %s', (endpoint, expected) => {
    expect(isLocalEndpoint(endpoint)).toBe(expected);
  });
});
