/** The role table: every route's access, and what each role (and an operator's namespace grant) allows. */
import { describe, expect, it } from 'vitest';
import { allowed, classify, isRole, POLICY, ROLES, type Access, type Principal, type Role } from './policy.ts';

const who = (role: Role, namespaces: string[] = ['*']): Principal => ({ name: role, via: 'token', role, namespaces });

describe('classify', () => {
  const ROUTES: [string, string, ReturnType<typeof classify>][] = [
    ['GET', '/healthz', { open: true }],
    ['POST', '/hooks/git', { open: true }],
    ['GET', '/metrics', { open: false, access: { verb: 'read', resource: 'metrics' }, changesState: false }],
    ['GET', '/v1/status', { open: false, access: { verb: 'read', resource: 'status' }, changesState: false }],
    ['GET', '/v1/proxies', { open: false, access: { verb: 'read', resource: 'proxies' }, changesState: false }],
    ['GET', '/v1/audit', { open: false, access: { verb: 'read', resource: 'audit' }, changesState: false }],
    ['POST', '/v1/sync', { open: false, access: { verb: 'trigger', resource: 'sync' }, changesState: true }],
    ['GET', '/v1/sync', { open: false, access: { verb: 'read', resource: 'status' }, changesState: false }],
    ['GET', '/v1/watch', { open: false, access: { verb: 'read', resource: 'services' }, changesState: false }],
    ['GET', '/v1/services', { open: false, access: { verb: 'read', resource: 'services' }, changesState: false }],
    ['GET', '/v1/services/', { open: false, access: { verb: 'read', resource: 'services' }, changesState: false }],
    ['GET', '/v1/services/shop/web/endpoints', { open: false, access: { verb: 'read', resource: 'endpoints' }, changesState: false }],
    ['HEAD', '/v1/services/shop/web/endpoints/e1', { open: false, access: { verb: 'read', resource: 'endpoints' }, changesState: false }],
    ['PUT', '/v1/services/shop/web/endpoints/e1', { open: false, access: { verb: 'write', resource: 'endpoints', namespace: 'shop' }, changesState: true }],
    ['DELETE', '/v1/services/shop/web/endpoints/e1', { open: false, access: { verb: 'write', resource: 'endpoints', namespace: 'shop' }, changesState: true }],
    ['PUT', '/v1/services/shop/web/endpoints/e1/heartbeat', { open: false, access: { verb: 'write', resource: 'endpoints', namespace: 'shop' }, changesState: true }],
    ['PUT', '/v1/services/s%68op/web/endpoints/e1', { open: false, access: { verb: 'write', resource: 'endpoints', namespace: 'shop' }, changesState: true }],
    ['PUT', '/v1/services/%E0%A4%A/web/endpoints/e1', { open: false, access: { verb: 'write', resource: 'endpoints', namespace: '%E0%A4%A' }, changesState: true }],
    // a write that names no endpoint is no registry write: unknown routes need the least access, so 401 comes before 404
    ['PUT', '/v1/services/shop/web/endpoints', { open: false, access: { verb: 'read', resource: 'status' }, changesState: false }],
    ['GET', '/v1/logs', { open: false, access: { verb: 'read', resource: 'logs' }, changesState: false }],
    ['GET', '/v1/events', { open: false, access: { verb: 'read', resource: 'logs' }, changesState: false }],
    ['POST', '/v1/cronjobs/shop/report/run', { open: false, access: { verb: 'trigger', resource: 'jobs', namespace: 'shop' }, changesState: true }],
    ['GET', '/v1/cronjobs/shop/report/run', { open: false, access: { verb: 'read', resource: 'status' }, changesState: false }],
    ['GET', '/', { open: true }],
    ['GET', '/ui/app-1a2b3c.js', { open: true }],
    ['POST', '/', { open: false, access: { verb: 'read', resource: 'status' }, changesState: false }],
    ['GET', '/v1/history', { open: false, access: { verb: 'read', resource: 'status' }, changesState: false }],
    ['GET', '/v1/status/watch', { open: false, access: { verb: 'read', resource: 'status' }, changesState: false }],
    ['GET', '/v1/no-such-route', { open: false, access: { verb: 'read', resource: 'status' }, changesState: false }],
  ];
  for (const [method, path, expected] of ROUTES) {
    it(`${method} ${path}`, () => expect(classify(method, path)).toEqual(expected));
  }

  it('opens /metrics with --metrics-public, and nothing else', () => {
    expect(classify('GET', '/metrics', { metricsPublic: true })).toEqual({ open: true });
    expect(classify('GET', '/v1/status', { metricsPublic: true })).toMatchObject({ open: false });
  });
});

describe('allowed', () => {
  const ACCESSES: [Access, Record<Role, boolean>][] = [
    [{ verb: 'read', resource: 'status' }, { viewer: true, operator: true, admin: true }],
    [{ verb: 'read', resource: 'metrics' }, { viewer: true, operator: true, admin: true }],
    [{ verb: 'read', resource: 'services' }, { viewer: true, operator: true, admin: true }],
    [{ verb: 'read', resource: 'endpoints' }, { viewer: true, operator: true, admin: true }],
    [{ verb: 'read', resource: 'proxies' }, { viewer: true, operator: true, admin: true }],
    [{ verb: 'read', resource: 'audit' }, { viewer: false, operator: false, admin: true }],
    [{ verb: 'read', resource: 'logs' }, { viewer: true, operator: true, admin: true }],
    [{ verb: 'write', resource: 'endpoints', namespace: 'shop' }, { viewer: false, operator: true, admin: true }],
    [{ verb: 'trigger', resource: 'sync' }, { viewer: false, operator: true, admin: true }],
    [{ verb: 'trigger', resource: 'jobs', namespace: 'shop' }, { viewer: false, operator: true, admin: true }],
    [{ verb: 'write', resource: 'status' }, { viewer: false, operator: false, admin: true }],
  ];
  for (const [access, expected] of ACCESSES) {
    it(`${access.verb} ${access.resource}${access.namespace ? ` in ${access.namespace}` : ''}`, () => {
      for (const role of ROLES) expect({ role, ok: allowed(who(role), access) }).toEqual({ role, ok: expected[role] });
    });
  }

  it('lets an operator write endpoints only in its granted namespaces; * grants all; admin needs no grant', () => {
    const write = (namespace: string): Access => ({ verb: 'write', resource: 'endpoints', namespace });
    const shop = who('operator', ['shop', 'edge']);
    expect(allowed(shop, write('shop'))).toBe(true);
    expect(allowed(shop, write('edge'))).toBe(true);
    expect(allowed(shop, write('data'))).toBe(false);
    expect(allowed(shop, write(''))).toBe(false);
    expect(allowed(who('operator', []), write('shop'))).toBe(false);
    expect(allowed(who('operator', ['*']), write('anything'))).toBe(true);
    expect(allowed(who('admin', []), write('data'))).toBe(true);
    // a grant does not lift the role: a viewer with the namespace still may not write
    expect(allowed(who('viewer', ['shop']), write('shop'))).toBe(false);
    // reads are not scoped by namespace
    expect(allowed(shop, { verb: 'read', resource: 'endpoints' })).toBe(true);
  });

  it('knows its roles', () => {
    expect(Object.keys(POLICY).sort()).toEqual([...ROLES].sort());
    for (const r of ROLES) expect(isRole(r)).toBe(true);
    for (const r of ['root', 'Admin', '', undefined, 1]) expect(isRole(r)).toBe(false);
  });
});
