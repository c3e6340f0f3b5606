import { describe, expect, it } from 'vitest';
import { imageRefProblem } from './image-ref.ts';

const HEX64 = 'a1b2c3d4e5f6'.repeat(6).slice(0, 64);

// Each verdict below is what dockerd 20.10 answered to a container create with that image (400 "invalid reference
// format" = refused; 404 "no such image" = accepted); test/engine-refusals.test.ts compares on the real engine.
describe('imageRefProblem', () => {
  it.each([
    'berth-local/busybox:1', 'shop/web:1.4', 'web', 'a__b', 'a-b', 'a--b', 'a.b', 'a_b', 'A.b/x', 'localhost/a', 'localhost:5000/a/b:c',
    'my.reg:80/x', 'my_reg.io/x', '1.2.3.4:5000/x', 'reg.io/a/b/c/d:e', `web@sha256:${HEX64}`, `web:1@sha256:${HEX64}`, `sha256:${HEX64}`, HEX64,
    'sha256:abc', 'a/b:' + 't'.repeat(128), 'x'.repeat(237), `a/${'x'.repeat(243)}`, 'a/b:_t', 'localhost:5000',
  ])('accepts %s', (ref) => {
    expect(imageRefProblem(ref)).toBeUndefined();
  });

  it.each([
    ['Not A Valid:Ref', /component "Not A Valid"/],
    ['Shop/web', /must be lowercase/],
    ['UPPER', /must be lowercase/],
    ['reg.io/A', /must be lowercase/],
    ['a___b', /component/],
    ['a..b', /component/],
    ['a/b:-tag', /tag "-tag"/],
    ['a/b:.t', /tag/],
    ['a/b:' + 't'.repeat(129), /at most 128/],
    [`web@sha256:${HEX64.slice(1)}`, /exactly 64/],
    [`web@sha256:${HEX64.toUpperCase()}`, /lowercase hex/],
    [`web@md5:${HEX64.slice(0, 32)}`, /sha256:, sha384: or sha512:/],
    ['x'.repeat(238), /255/],
    [`a/${'x'.repeat(244)}`, /255/],
    ['my.reg:8a/x', /port/],
    ['my-.reg/x', /host/],
    ['[::1]:5000/x', /host|port/],
    ['a/', /component ""/],
    ['/a', /component ""/],
    ['a//b', /component ""/],
    ['a:', /tag ""/],
    [':a', /repository/],
    ['@', /digest/],
    ['a b', /component/],
    ['é', /component/],
    ['a.', /component/],
    ['_a', /component/],
    ['x'.repeat(100_000), /far more/],
  ])('refuses %s', (ref, message) => {
    expect(imageRefProblem(ref)).toMatch(message);
  });

  it('stays linear on a long almost-valid name (no regexp backtracking)', () => {
    const started = performance.now();
    expect(imageRefProblem(`${'a-'.repeat(120)}!`)).toBeDefined();
    expect(imageRefProblem(`${'a'.repeat(200)}-`)).toBeDefined();
    expect(performance.now() - started).toBeLessThan(100);
  });
});
