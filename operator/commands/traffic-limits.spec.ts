import { describe, expect, it } from 'vitest';
import { flagsWith, type Flags } from '../settings/flags.ts';
import { trafficSettings } from '../settings/settings.ts';
import { BerthError } from '../model/errors.ts';
import { createLogger } from '../util/log.ts';
import { apiShare, trafficLimits } from './traffic-limits.ts';

const asked = (overrides: Flags) => trafficSettings(flagsWith('run', overrides));

const quiet = () => {
  const lines: string[] = [];
  return { lines, log: createLogger({ level: 'debug', write: (l) => lines.push(l) }) };
};

describe('trafficLimits', () => {
  it('derives the connection budget from RLIMIT_NOFILE and caps a larger --max-connections at it', () => {
    const { log, lines } = quiet();
    expect(trafficLimits(asked({}), log, 1024).summary.maxConnections).toBe(384);
    expect(trafficLimits(asked({ 'max-connections': '100' }), log, 1024).summary.maxConnections).toBe(100);
    expect(trafficLimits(asked({ 'max-connections': '100000' }), log, 1024).summary.maxConnections).toBe(384);
    expect(lines.some((l) => l.includes('above the descriptor budget'))).toBe(true);
  });

  it('keeps the API server a reserve the proxies cannot take: watchers, blocking queries and room for /healthz', () => {
    const { log } = quiet();
    const l = trafficLimits(asked({ 'max-connections': '40', 'max-watchers': '6', 'max-blocking-queries': '4' }), log, 20_000);
    expect(l.summary).toMatchObject({ maxConnections: 40, maxWatchers: 6, maxBlockingQueries: 4, apiReserve: 15 });
    expect(l.server.gate.stats()).toMatchObject({ name: 'api', reserve: 15 });
    expect(l.proxies.idleTimeoutMs).toBe(300_000);
  });

  it('scales watchers and blocking queries down to half the budget', () => {
    expect(apiShare(384, 512, 256)).toEqual({ watchers: 96, blocking: 48, plain: 48 });
    expect(apiShare(7_500, 512, 256)).toEqual({ watchers: 512, blocking: 256, plain: 64 });
  });

  it('rejects bad values with E_CONFIG', () => {
    const { log } = quiet();
    for (const bad of [{ 'max-connections': 'lots' }, { 'max-watchers': '0' }, { 'max-body-buffer': 'big' }, { 'proxy-idle-timeout': 'never' }]) {
      const err = (() => { try { trafficLimits(asked(bad), log, 1024); } catch (e) { return e; } })();
      expect(err).toBeInstanceOf(BerthError);
      expect((err as BerthError).code).toBe('E_CONFIG');
    }
  });
});
