/** `berth token create | list | revoke`: the API tokens of the berth whose --state-dir this is (it re-reads the file within a second). */
import os from 'node:os';
import type { Flags } from '../settings/flags.ts';
import { BerthError, asBerthError } from '../model/errors.ts';
import { AuditLog } from '../auth/audit.ts';
import { isRole, ROLES } from '../auth/policy.ts';
import { TokenStore } from '../auth/tokens.ts';
import { settingsFor } from '../settings/settings.ts';
import type { Io } from './shared.ts';

export async function token(flags: Flags, positionals: string[], io: Io, now = new Date()): Promise<number> {
  try {
    const s = settingsFor('token', flags);
    const [verb, arg, ...extra] = positionals;
    if (extra.length) throw new BerthError('E_CONFIG', `token: unexpected ${extra.join(' ')} (see berth token --help)`);
    const store = TokenStore.open(s.stateDir);
    const audit = new AuditLog(s.stateDir);
    const actor = `cli:${os.userInfo().username}`;
    switch (verb) {
      case 'create': {
        const name = s.name ?? arg;
        if (!name) throw new BerthError('E_CONFIG', 'token create: --name is required (it names the caller in the audit trail)');
        if (!isRole(s.role)) throw new BerthError('E_CONFIG', `token create: --role must be one of ${ROLES.join(', ')}`);
        if (s.role === 'operator' && !s.namespaces?.length) throw new BerthError('E_CONFIG', "token create: an operator token needs --namespaces (the namespaces whose endpoints it may change; '*' for all)");
        const expiresAt = s.expiresMs === undefined ? null : new Date(now.getTime() + s.expiresMs);
        const { token: text, entry } = await store.create({ name, role: s.role, namespaces: s.namespaces, expiresAt }, now);
        audit.record({ actor, source: 'local', action: `token create ${name}`, result: 'ok', message: `role ${entry.role}` });
        io.out(text);
        io.err(`berth: token "${name}" (${entry.role}${entry.role === 'operator' ? `, namespaces ${entry.namespaces.join(',')}` : ''}${entry.expires ? `, expires ${entry.expires}` : ''}) created; it is shown only now`);
        return 0;
      }
      case 'list': {
        const list = store.list();
        if (s.json) io.out(JSON.stringify(list, null, 2));
        else if (!list.length) io.out('no tokens');
        else for (const t of list) io.out(`${t.name.padEnd(20)} ${t.role.padEnd(9)} ${t.namespaces.join(',').padEnd(16)} created ${t.created}${t.expires ? `  expires ${t.expires}` : ''}`);
        return 0;
      }
      case 'revoke': {
        if (!arg) throw new BerthError('E_CONFIG', 'token revoke: name the token (berth token list shows them)');
        if (!store.revoke(arg)) throw new BerthError('E_CONFIG', `token revoke: no token named "${arg}"`);
        audit.record({ actor, source: 'local', action: `token revoke ${arg}`, result: 'ok' });
        io.err(`berth: token "${arg}" revoked`);
        return 0;
      }
      default:
        throw new BerthError('E_CONFIG', `token: say create, list or revoke (see berth token --help)`);
    }
  } catch (err) {
    io.err(`berth: ${asBerthError(err, 'E_CONFIG').message.split('\n')[0]}`);
    return 1;
  }
}
