import { describe, expect, it } from 'vitest';
import { BerthError } from '../model/errors.ts';
import { compileRoutes, matchRoute, normalizeHost, prefixMatches, type RouterRule } from './route-table.ts';

const rule = (source: string, pathPrefix: string, host?: string): RouterRule => ({ source, pathPrefix, host, backends: [{ service: 'ns/s', weight: 1 }] });
const which = (rules: RouterRule[], host: string | undefined, path: string) => matchRoute(compileRoutes(rules), host, path)?.rule.source;

describe('route table', () => {
  it('matches a prefix on a segment boundary only', () => {
    expect(prefixMatches('/api', '/api')).toBe(true);
    expect(prefixMatches('/api', '/api/')).toBe(true);
    expect(prefixMatches('/api', '/api/x')).toBe(true);
    expect(prefixMatches('/api', '/apix')).toBe(false);
    expect(prefixMatches('/', '/anything')).toBe(true);
    const rules = [rule('api', '/api/')];
    expect(which(rules, 'h', '/api?x=1')).toBe('api');
    expect(which(rules, 'h', '/apix')).toBeUndefined();
  });

  it('prefers exact host over wildcard over any host, then the longest prefix', () => {
    const rules = [
      rule('any-root', '/'),
      rule('any-api', '/api'),
      rule('wild', '/', '*.example.com'),
      rule('wild-deeper', '/', '*.shop.example.com'),
      rule('exact-root', '/', 'shop.example.com'),
      rule('exact-api', '/api', 'Shop.Example.com'),
    ];
    expect(which(rules, 'shop.example.com', '/api/v1')).toBe('exact-api');
    expect(which(rules, 'SHOP.example.com:8080', '/web')).toBe('exact-root');
    expect(which(rules, 'a.shop.example.com', '/api')).toBe('wild-deeper');
    expect(which(rules, 'blog.example.com', '/api')).toBe('wild');
    expect(which(rules, 'example.com', '/api/x')).toBe('any-api');
    expect(which(rules, undefined, '/x')).toBe('any-root');
  });

  it('falls back to a less specific host when the exact host has no matching prefix', () => {
    const rules = [rule('exact-api', '/api', 'a.example.com'), rule('wild', '/', '*.example.com')];
    expect(which(rules, 'a.example.com', '/web')).toBe('wild');
    expect(which(rules, 'other.org', '/web')).toBeUndefined();
  });

  it('keeps list order on a full tie', () => {
    expect(which([rule('first', '/a'), rule('second', '/a/')], 'h', '/a')).toBe('first');
  });

  it('normalizes Host headers: case, port, IPv6 brackets, trailing dot', () => {
    expect(normalizeHost('Example.COM:8080')).toBe('example.com');
    expect(normalizeHost('[::1]:80')).toBe('[::1]');
    expect(normalizeHost('example.com.')).toBe('example.com');
    expect(normalizeHost('')).toBeUndefined();
  });

  it('rejects a bad prefix, host pattern or weight with E_CONFIG', () => {
    const bad: RouterRule[] = [
      { pathPrefix: 'api', backends: [] },
      { host: 'a.*.com', pathPrefix: '/', backends: [] },
      { pathPrefix: '/', backends: [{ service: 'ns/s', weight: -1 }] },
      { pathPrefix: '/', backends: [{ service: 'ns/s', weight: 1.5 }] },
    ];
    for (const r of bad) {
      expect(() => compileRoutes([r])).toThrow(BerthError);
      try {
        compileRoutes([r]);
      } catch (err) {
        expect((err as BerthError).code).toBe('E_CONFIG');
      }
    }
  });
});
