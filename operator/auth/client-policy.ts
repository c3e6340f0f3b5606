/**
 * Client certificates -> roles (mutual TLS). A small YAML file names, per client, the certificate subject to match (its
 * CN, or one of its DNS / email / URI subject alternative names), the role and the namespaces it may change:
 *
 *   apiVersion: berth/v1
 *   kind: ClientPolicy
 *   clients:
 *     - subject: ci-runner
 *       role: operator
 *       namespaces: [shop]
 *
 * A file that does not parse fails the start naming file:line and the field.
 */
import { readFileSync, statSync } from 'node:fs';
import type { PeerCertificate } from 'node:tls';
import { LineCounter, parseDocument, isMap, isSeq, type Node } from 'yaml';
import { BerthError } from '../model/errors.ts';
import { isRole, ROLES, type Principal, type Role } from './policy.ts';

export interface ClientRule {
  subject: string;
  role: Role;
  namespaces: string[];
}

const MAX_FILE = 256 * 1024;

/** Reads and checks the policy file. */
export function loadClientPolicy(file: string): ClientRule[] {
  let text: string;
  try {
    if (statSync(file).size > MAX_FILE) throw new BerthError('E_CONFIG', `${file}: larger than ${MAX_FILE} bytes, not a client policy`);
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if (err instanceof BerthError) throw err;
    throw new BerthError('E_CONFIG', `--tls-client-policy: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  return parseClientPolicy(text, file);
}

export function parseClientPolicy(text: string, file: string): ClientRule[] {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines });
  const at = (node: Node | null | undefined): string => `${file}:${node?.range ? lines.linePos(node.range[0]).line : 1}`;
  if (doc.errors.length) {
    const e = doc.errors[0]!;
    throw new BerthError('E_CONFIG', `${file}:${e.linePos?.[0].line ?? 1}: ${e.message.split('\n')[0]}`);
  }
  const root = doc.contents;
  if (!isMap(root)) throw new BerthError('E_CONFIG', `${at(root)}: a client policy is a mapping with kind: ClientPolicy and clients: [...]`);
  const kind: unknown = root.toJSON().kind;
  if (kind !== 'ClientPolicy') throw new BerthError('E_CONFIG', `${at(root.get('kind', true) as Node)}: kind: must be ClientPolicy`);
  const clients = root.get('clients', true) as Node | undefined;
  if (!isSeq(clients)) throw new BerthError('E_CONFIG', `${at(clients ?? root)}: clients: must be a list`);
  return clients.items.map((item, i) => {
    const where = (field: string, node?: unknown): string => `${at((node as Node | undefined) ?? (item as Node))}: clients[${i}].${field}`;
    if (!isMap(item)) throw new BerthError('E_CONFIG', `${at(item as Node)}: clients[${i}]: must be a mapping with subject, role and namespaces`);
    for (const pair of item.items) {
      const key = String((pair.key as { value?: unknown })?.value);
      if (!['subject', 'role', 'namespaces'].includes(key)) throw new BerthError('E_CONFIG', `${where(key, pair.key)}: unknown field (allowed: subject, role, namespaces)`);
    }
    const subject = item.get('subject');
    if (typeof subject !== 'string' || !subject) throw new BerthError('E_CONFIG', `${where('subject', item.get('subject', true))}: must be a non-empty string (the certificate CN or a SAN)`);
    const role = item.get('role');
    if (!isRole(role)) throw new BerthError('E_CONFIG', `${where('role', item.get('role', true))}: must be one of ${ROLES.join(', ')}`);
    const ns = item.get('namespaces', true) as Node | undefined;
    let namespaces = ['*'];
    if (ns !== undefined) {
      const list = (isSeq(ns) ? ns.toJSON() : null) as unknown[] | null;
      if (!list || !list.every((x) => typeof x === 'string' && x)) throw new BerthError('E_CONFIG', `${where('namespaces', ns)}: must be a list of namespace names ('*' = all)`);
      namespaces = list as string[];
    }
    return { subject, role, namespaces };
  });
}

/** The names a certificate answers to: its CN and its DNS, email and URI SANs. */
export function certificateNames(cert: Pick<PeerCertificate, 'subject' | 'subjectaltname'>): string[] {
  const names: string[] = [];
  const cn = cert.subject?.CN;
  if (typeof cn === 'string') names.push(cn);
  else if (Array.isArray(cn)) names.push(...(cn as string[]));
  for (const part of (cert.subjectaltname ?? '').split(/,\s*/)) {
    const m = /^(DNS|email|URI):(.+)$/.exec(part);
    if (m) names.push(m[2]!);
  }
  return names;
}

/** The principal of a verified client certificate, or undefined when no rule names it. */
export function principalOfCertificate(rules: readonly ClientRule[], cert: Pick<PeerCertificate, 'subject' | 'subjectaltname'>): Principal | undefined {
  const names = certificateNames(cert);
  const rule = rules.find((r) => names.includes(r.subject));
  return rule ? { name: `cert:${rule.subject}`, via: 'certificate', role: rule.role, namespaces: rule.namespaces } : undefined;
}
