/**
 * The security of `berth run`'s own listener, set up before it listens: the tokens file and the local CLI token, the
 * client-certificate policy, the guard every request passes, the audit trail, and the safe-default rule (a
 * non-loopback address needs TLS and credentials, or an explicit --insecure-listen, warned at every start).
 */
import { readFileSync, writeFileSync, chmodSync, mkdirSync } from 'node:fs';
import { isIP } from 'node:net';
import path from 'node:path';
import { AuditLog } from '../auth/audit.ts';
import { loadClientPolicy, type ClientRule } from '../auth/client-policy.ts';
import { Guard } from '../auth/guard.ts';
import { TokenStore } from '../auth/tokens.ts';
import { actionView } from '../diff/render.ts';
import { BerthError } from '../model/errors.ts';
import type { RunSettings } from '../settings/settings.ts';
import type { Logger } from '../util/log.ts';
import type { Redactor } from '../util/redact.ts';
import { CLI_TOKEN_FILE } from './api-client.ts';
import type { PassListener } from './listeners.ts';

/** The token `berth run` makes for the CLI of the same account (file mode 0600 in --state-dir). */
export const LOCAL_TOKEN_NAME = 'local-cli';

export interface ApiSecurity {
  guard: Guard;
  audit: AuditLog;
  tls: { cert: Buffer; key: Buffer; ca?: Buffer } | undefined;
  /** Records each action a pass applied, with the revision that caused it. */
  auditListener: PassListener;
  close(): void;
}

export async function apiSecurity(s: RunSettings, log: Logger, redact: Redactor): Promise<ApiSecurity> {
  const tokens = TokenStore.open(s.stateDir);
  const rules: ClientRule[] | undefined = s.api.clientPolicy ? loadClientPolicy(s.api.clientPolicy) : s.api.tls?.clientCa ? [] : undefined;
  checkExposure(s, tokens, log);
  redact.add(await localToken(tokens, s.stateDir));
  tokens.watch(1000, (err) => log.warn('tokens file: cannot re-read it; the tokens loaded before stay in force', { error: err.message }));
  const audit = new AuditLog(s.stateDir, log);
  const guard = new Guard({ tokens, clientRules: rules, metricsPublic: s.api.metricsPublic });
  const tls = s.api.tls ? { cert: s.api.tls.cert, key: s.api.tls.key, ...(s.api.tls.clientCa ? { ca: s.api.tls.clientCa } : {}) } : undefined;
  const auditListener: PassListener = {
    afterPass(r) {
      const revision = r.status.revision.applied ?? r.status.revision.latest ?? undefined;
      for (const o of r.applied?.outcomes ?? []) {
        const v = actionView(o.action);
        const what = v.container ?? (v.service ? `${v.service}${v.replica !== undefined ? ` #${v.replica}` : ''}` : v.volume ?? v.network ?? v.image ?? '');
        audit.record({ actor: 'berth', source: 'local', action: `apply ${v.type} ${what}`.trim(), result: o.error ? 'error' : 'ok', ...(revision ? { revision } : {}), message: o.error ? o.error.message.split('\n')[0] : v.reason });
      }
    },
  };
  return { guard, audit, tls, auditListener, close: () => tokens.close() };
}

/** True for 127.0.0.0/8, ::1 and localhost. */
export function isLoopback(host: string): boolean {
  if (host === 'localhost') return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  return host === '::1' || host === '0:0:0:0:0:0:0:1';
}

/** A listener others can reach needs TLS and credentials; --insecure-listen lets it start anyway, with a warning. */
function checkExposure(s: RunSettings, tokens: TokenStore, log: Logger): void {
  if (isLoopback(s.listen.host)) return;
  const missing: string[] = [];
  if (!s.api.tls) missing.push('TLS (--tls-cert, --tls-key)');
  if (!s.api.tls?.clientCa && !tokens.hasTokens(LOCAL_TOKEN_NAME)) missing.push('credentials (berth token create, or --tls-client-ca)');
  if (!missing.length) return;
  const why = `listening on ${s.listen.address}, which is not loopback, without ${missing.join(' and ')}`;
  if (!s.api.insecureListen) throw new BerthError('E_CONFIG', `refusing to start: ${why}; anyone on the network could read the status or register endpoints (--insecure-listen overrides)`);
  log.warn(`insecure: ${why} (--insecure-listen)`);
}

/** The local CLI's admin token: kept while its file still holds a valid one, else made anew (the old one revoked). */
async function localToken(tokens: TokenStore, stateDir: string): Promise<string> {
  const file = path.join(stateDir, CLI_TOKEN_FILE);
  let text = '';
  try {
    text = readFileSync(file, 'utf8').trim();
  } catch {
    // none yet
  }
  if (text && (await tokens.check(text)).ok) return text;
  tokens.revoke(LOCAL_TOKEN_NAME);
  const made = await tokens.create({ name: LOCAL_TOKEN_NAME, role: 'admin' });
  mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  writeFileSync(file, made.token + '\n', { mode: 0o600 });
  chmodSync(file, 0o600);
  return made.token;
}
