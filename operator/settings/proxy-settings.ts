/** The settings of `berth proxy` (the data-plane process), parsed once from its flags. */
import os from 'node:os';
import { BerthError } from '../model/errors.ts';
import { parseDuration, type Flags } from './flags.ts';
import type { ProxySettings } from '../dataplane/protocol.ts';

export type { ProxySettings } from '../dataplane/protocol.ts';

const NAME = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

export function proxySettings(flags: Flags): ProxySettings {
  const instance = String(flags.instance ?? 'default');
  if (!NAME.test(instance)) throw new BerthError('E_CONFIG', `--instance: "${instance}" must be lowercase letters, digits and '-'`);
  const level = String(flags['log-level'] ?? 'info');
  if (level !== 'debug' && level !== 'info' && level !== 'warn' && level !== 'error') throw new BerthError('E_CONFIG', `--log-level: "${level}" must be debug, info, warn or error`);
  const format = String(flags['log-format'] ?? 'text');
  if (format !== 'text' && format !== 'json') throw new BerthError('E_CONFIG', `--log-format: "${format}" must be text or json`);
  const max = String(flags['max-connections'] ?? 'auto');
  return {
    stateDir: String(flags['state-dir']),
    instance,
    proxyHost: String(flags['proxy-host'] ?? '0.0.0.0'),
    idleTimeoutMs: parseDuration(String(flags['proxy-idle-timeout'] ?? '5m'), 'proxy-idle-timeout'),
    maxConnections: max === 'auto' ? 'auto' : positive(max, 'max-connections'),
    maxConnectionsPerClient: positive(String(flags['max-connections-per-client'] ?? '256'), 'max-connections-per-client'),
    workers: proxyWorkers(flags),
    stop: flags.stop === true,
    log: { level, json: format === 'json' },
  };
}

/** --proxy-workers as a count: `auto` (the default) is the number of cores this process may use. */
export function proxyWorkers(flags: Flags): number {
  const v = String(flags['proxy-workers'] ?? 'auto');
  return v === 'auto' ? Math.max(1, os.availableParallelism()) : positive(v, 'proxy-workers');
}

function positive(v: string, flag: string): number {
  const n = Number(v);
  if (!/^[0-9]+$/.test(v.trim()) || !Number.isSafeInteger(n) || n < 1) throw new BerthError('E_CONFIG', `--${flag}: "${v}" must be a positive integer`);
  return n;
}
