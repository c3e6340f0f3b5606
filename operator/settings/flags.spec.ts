import { describe, expect, it } from 'vitest';
import { thrownBerthError } from '../../test/helpers/errors.ts';
import { COMMANDS, helpText, parseCommandLine, parseDuration } from './flags.ts';

const configError = thrownBerthError;

describe('duration flags against the timer limit', () => {
  it.each(['interval', 'node-grace', 'drain-timeout', 'alert-mute'])('--%s 720h is an E_CONFIG naming the flag', (flag) => {
    const err = configError(() => parseDuration('720h', flag));
    expect(err.code).toBe('E_CONFIG');
    expect(err.message).toContain(`--${flag}`);
    expect(err.message).toContain('596h31m23s647ms');
  });

  it('takes the longest duration a timer can wait, and nothing above it', () => {
    expect(parseDuration('596h31m23s647ms', 'interval')).toBe(2 ** 31 - 1);
    expect(configError(() => parseDuration('596h31m23s648ms', 'interval')).code).toBe('E_CONFIG');
    expect(configError(() => parseDuration(String(2 ** 31), 'interval')).code).toBe('E_CONFIG');
  });
});

describe('--allow-host-path', () => {
  it('is repeatable on run, plan, apply and validate, and read from BERTH_ALLOW_HOST_PATH', () => {
    for (const cmd of ['run', 'plan', 'apply']) {
      expect(parseCommandLine([cmd, '--allow-host-path', '/srv/a', '--allow-host-path', '/srv/b'], {}).flags['allow-host-path']).toEqual(['/srv/a', '/srv/b']);
    }
    expect(parseCommandLine(['validate', 'dir', '--allow-host-path', '/srv'], {}).flags['allow-host-path']).toEqual(['/srv']);
    expect(parseCommandLine(['run'], { BERTH_ALLOW_HOST_PATH: '/srv/a,/srv/b' }).flags['allow-host-path']).toEqual(['/srv/a', '/srv/b']);
    expect(parseCommandLine(['run'], {}).flags['allow-host-path']).toBeUndefined();
  });
});

describe('--compose-profiles and --compose-env', () => {
  it('are flags of run, plan, apply and validate, and read from BERTH_COMPOSE_PROFILES / BERTH_COMPOSE_ENV', () => {
    for (const cmd of ['run', 'plan', 'apply', 'validate']) {
      const flags = parseCommandLine([cmd, '--compose-profiles', 'a,b', '--compose-env', '/etc/berth/compose.env'], {}).flags;
      expect(flags['compose-profiles']).toBe('a,b');
      expect(flags['compose-env']).toBe('/etc/berth/compose.env');
      expect(parseCommandLine([cmd], { BERTH_COMPOSE_PROFILES: 'debug', BERTH_COMPOSE_ENV: '/e.env' }).flags).toMatchObject({ 'compose-profiles': 'debug', 'compose-env': '/e.env' });
    }
  });
});

describe('berth --help', () => {
  it('separates every command from its summary (pause-drift and resume-drift are longer than the old column)', () => {
    const lines = helpText().split('\n');
    for (const c of COMMANDS) expect(lines.some((l) => new RegExp(`^  ${c} {2,}\\S`).test(l)), c).toBe(true);
  });
});
