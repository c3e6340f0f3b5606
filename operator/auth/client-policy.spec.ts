/** The client-certificate policy file: a good one, and bad ones failing with file:line and the field. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BerthError } from '../model/errors.ts';
import { certificateNames, loadClientPolicy, principalOfCertificate } from './client-policy.ts';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'berth-client-policy-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let n = 0;
function file(text: string): string {
  const f = path.join(dir, `policy-${n++}.yaml`);
  writeFileSync(f, text);
  return f;
}

function failure(text: string): { file: string; message: string } {
  const f = file(text);
  try {
    loadClientPolicy(f);
  } catch (err) {
    expect(err).toBeInstanceOf(BerthError);
    expect((err as BerthError).code).toBe('E_CONFIG');
    expect((err as Error).message).not.toContain('\n');
    return { file: f, message: (err as Error).message };
  }
  throw new Error(`${f} loaded without error:\n${text}`);
}

const HEAD = 'apiVersion: berth/v1\nkind: ClientPolicy\nclients:\n';

describe('loadClientPolicy', () => {
  it('reads a good file; namespaces default to all', () => {
    const f = file(`${HEAD}  - subject: ci-runner\n    role: operator\n    namespaces: [shop, edge]\n  - subject: dash.example.com\n    role: viewer\n`);
    expect(loadClientPolicy(f)).toEqual([
      { subject: 'ci-runner', role: 'operator', namespaces: ['shop', 'edge'] },
      { subject: 'dash.example.com', role: 'viewer', namespaces: ['*'] },
    ]);
    expect(loadClientPolicy(file(`${HEAD.slice(0, -1)} []\n`))).toEqual([]);
  });

  it('names file:line and the field of a bad role', () => {
    const { file: f, message } = failure(`${HEAD}  - subject: ci-runner\n    role: root\n`);
    expect(message).toBe(`${f}:5: clients[0].role: must be one of viewer, operator, admin`);
  });

  it('names file:line and the field of an unknown field', () => {
    const { file: f, message } = failure(`${HEAD}  - subject: a\n    role: viewer\n  - subject: b\n    role: viewer\n    namespace: [shop]\n`);
    expect(message).toBe(`${f}:8: clients[1].namespace: unknown field (allowed: subject, role, namespaces)`);
  });

  it('names file:line of something that is not a list', () => {
    const ns = failure(`${HEAD}  - subject: ci\n    role: operator\n    namespaces: shop\n`);
    expect(ns.message).toBe(`${ns.file}:6: clients[0].namespaces: must be a list of namespace names ('*' = all)`);
    const clients = failure('apiVersion: berth/v1\nkind: ClientPolicy\nclients:\n  subject: ci\n');
    expect(clients.message).toBe(`${clients.file}:4: clients: must be a list`);
    const missing = failure('apiVersion: berth/v1\nkind: ClientPolicy\n');
    expect(missing.message).toMatch(new RegExp(`^${escape(missing.file)}:\\d+: clients: must be a list$`));
    const item = failure(`${HEAD}  - ci-runner\n`);
    expect(item.message).toBe(`${item.file}:4: clients[0]: must be a mapping with subject, role and namespaces`);
  });

  it('names file:line of a YAML syntax error', () => {
    const { file: f, message } = failure(`${HEAD}  - subject: ci\n    role: [viewer\n`);
    expect(message).toMatch(new RegExp(`^${escape(f)}:[56]: `));
    const dup = failure(`${HEAD}  - subject: a\n    role: viewer\n    role: admin\n`);
    expect(dup.message).toMatch(new RegExp(`^${escape(dup.file)}:6: .*unique`));
  });

  it('names file:line of a missing subject, a wrong kind, and an unreadable file', () => {
    const subject = failure(`${HEAD}  - role: viewer\n`);
    expect(subject.message).toBe(`${subject.file}:4: clients[0].subject: must be a non-empty string (the certificate CN or a SAN)`);
    const kind = failure('apiVersion: berth/v1\nkind: Policy\nclients: []\n');
    expect(kind.message).toBe(`${kind.file}:2: kind: must be ClientPolicy`);
    const notMap = failure('- a\n- b\n');
    expect(notMap.message).toMatch(/:1: a client policy is a mapping/);
    const absent = path.join(dir, 'absent.yaml');
    expect(() => loadClientPolicy(absent)).toThrow(`--tls-client-policy: cannot read ${absent} (ENOENT)`);
  });
});

describe('principalOfCertificate', () => {
  const rules = [{ subject: 'ci-runner', role: 'viewer' as const, namespaces: ['*'] }, { subject: 'ops@example.com', role: 'admin' as const, namespaces: ['*'] }];
  it('matches the CN or a DNS / email / URI SAN, and nothing else', () => {
    expect(principalOfCertificate(rules, { subject: { CN: 'ci-runner' } as never, subjectaltname: '' })).toEqual({ name: 'cert:ci-runner', via: 'certificate', role: 'viewer', namespaces: ['*'] });
    expect(principalOfCertificate(rules, { subject: { CN: 'x' } as never, subjectaltname: 'DNS:a.example, email:ops@example.com' })?.role).toBe('admin');
    expect(principalOfCertificate(rules, { subject: { CN: 'x', O: 'ci-runner' } as never, subjectaltname: 'IP Address:127.0.0.1' })).toBeUndefined();
    expect(certificateNames({ subject: { CN: 'c' } as never, subjectaltname: 'DNS:d, URI:spiffe://x/y, IP Address:10.0.0.1' })).toEqual(['c', 'd', 'spiffe://x/y']);
  });
});

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
