import os from 'node:os';
import { describe, expect, it } from 'vitest';
import { thrownBerthError } from '../../test/helpers/errors.ts';
import { flagsWith, parseCommandLine, type Flags } from './flags.ts';
import { settingsFor } from './settings.ts';

const configError = thrownBerthError;

const run = (overrides: Flags, env: NodeJS.ProcessEnv = {}) => settingsFor('run', flagsWith('run', { repo: '/r', ...overrides }), env);

describe('settingsFor', () => {
  it('takes --age-key-file, else hands the SOPS variables (and only those) to the secrets layer', () => {
    expect(run({ 'age-key-file': '/etc/berth/age.txt' }, { SOPS_AGE_KEY: 'AGE-SECRET-KEY-1X' }).secrets).toEqual({ ageKeyFile: '/etc/berth/age.txt', env: { SOPS_AGE_KEY: 'AGE-SECRET-KEY-1X' } });
    expect(run({}, { SOPS_AGE_KEY_FILE: '/k.txt', XDG_CONFIG_HOME: '/cfg', HOME: '/root', SOPS_AGE_RECIPIENTS: 'x' }).secrets).toEqual({ ageKeyFile: undefined, env: { SOPS_AGE_KEY_FILE: '/k.txt', XDG_CONFIG_HOME: '/cfg' } });
    expect(settingsFor('apply', flagsWith('apply', { repo: '/r', 'age-key-file': '/a' }), {}).secrets.ageKeyFile).toBe('/a');
  });

  it('parses the defaults of berth run into milliseconds, bytes, unions and lists', () => {
    const s = run({});
    expect(s).toMatchObject({
      repo: '/r', branch: 'main', instance: 'default', intervalMs: 30_000, listen: { host: '127.0.0.1', port: 7070, address: '127.0.0.1:7070' },
      drift: 'correct', alertWebhooks: [], alertMuteMs: 600_000, reviewBranches: [], memoryHighMark: 0.9, nodeGraceMs: 10_000,
      drainTimeoutMs: 10_000, statusIntervalMs: 30_000, github: null, log: { level: 'info', json: false },
      manifests: { path: '.', allowHostPaths: undefined, allowDockerSocket: false, maxFileSize: 1024 * 1024, maxRevisionSize: 16 * 1024 * 1024 },
    });
    expect(s.traffic).toEqual({
      maxConnections: 'auto', maxConnectionsPerClient: 256, maxWatchers: 512, maxBlockingQueries: 256, maxStreamsPerClient: 32,
      maxRequestBodies: 32, maxBodyBuffer: 16 * 1024 * 1024, bodyTimeoutMs: 10_000, proxyIdleTimeoutMs: 300_000,
    });
  });

  it('reads the command line and BERTH_* the same way', () => {
    const p = parseCommandLine(['run', '--repo', '/r', '--interval', '2m', '--alert-webhook', 'http://a', '--memory-high-mark', '0.5'], { BERTH_DRIFT: 'detect' });
    expect(settingsFor('run', p.flags, {})).toMatchObject({ intervalMs: 120_000, alertWebhooks: ['http://a'], memoryHighMark: 0.5, drift: 'detect' });
    const plan = settingsFor('plan', parseCommandLine(['plan', '--repo', '/r', '--json'], {}).flags);
    expect(plan).toMatchObject({ format: 'json', detailedExitcode: false, revision: undefined });
  });

  it('takes the GitHub token from the variable --github-token-env names, and needs it with --github-repo', () => {
    expect(run({ 'github-repo': 'o/n' }, { GITHUB_TOKEN: 't' }).github).toEqual({ repo: 'o/n', token: 't', apiUrl: 'https://api.github.com' });
    expect(run({}, { GITHUB_TOKEN: 't' }).githubToken).toBe('t');
    expect(configError(() => run({ 'github-repo': 'o/n' })).message).toBe('--github-repo o/n needs a token in the environment variable GITHUB_TOKEN (--github-token-env)');
  });

  it.each([
    ['interval', 'soon', '--interval: "soon" is not a duration (e.g. 30s, 500ms, 2m)'],
    ['listen', 'nowhere', '--listen: "nowhere" is not host:port'],
    ['memory-high-mark', '150%', '--memory-high-mark: "150%" must be a fraction in (0, 1] or a percentage such as 90%'],
    ['max-watchers', '0', '--max-watchers: "0" must be a positive integer'],
    ['max-body-buffer', 'big', '--max-body-buffer: "big" must be a size such as 16Mi or 1048576'],
    ['drain-timeout', '0s', '--drain-timeout: must be positive'],
  ])('fails at start-up on --%s %s with one line naming the flag', (flag, value, message) => {
    const err = configError(() => run({ [flag]: value }));
    expect(err.code).toBe('E_CONFIG');
    expect(err.message).toBe(message);
  });

  it('rejects a bad gc schedule and a bad review branch pattern with E_CONFIG', () => {
    expect(configError(() => run({ 'gc-schedule': 'often' })).code).toBe('E_CONFIG');
    expect(configError(() => run({ 'review-branches': ['!'] })).message).toMatch(/^--review-branches: /);
    expect(configError(() => run({ repo: undefined })).message).toMatch(/^--repo is required/);
  });
});

describe('berth proxy settings', () => {
  it('parses its flags and refuses a state dir too deep for the control socket', () => {
    expect(settingsFor('proxy', flagsWith('proxy', { 'state-dir': '/s', 'proxy-idle-timeout': '2500ms', 'max-connections': '40' }))).toEqual({
      stateDir: '/s', instance: 'default', proxyHost: '0.0.0.0', idleTimeoutMs: 2_500, maxConnections: 40, maxConnectionsPerClient: 256, stop: false,
      workers: os.availableParallelism(), log: { level: 'info', json: false },
    });
    expect(settingsFor('proxy', flagsWith('proxy', { 'state-dir': '/s', 'proxy-workers': '3' })).workers).toBe(3);
    expect(configError(() => settingsFor('proxy', flagsWith('proxy', { 'proxy-workers': '0' }))).message).toMatch(/--proxy-workers/);
    expect(configError(() => settingsFor('proxy', flagsWith('proxy', { 'max-connections': '0' }))).message).toMatch(/--max-connections/);
    expect(configError(() => run({ 'state-dir': `/${'d'.repeat(100)}` })).message).toMatch(/control socket path .* is 120 bytes, more than a unix socket allows/);
  });
});

describe('compose settings', () => {
  it('splits --compose-profiles on commas and checks --compose-env at start-up, naming the file', async () => {
    const { mkdtempSync, writeFileSync } = await import('node:fs');
    const dir = mkdtempSync(`${os.tmpdir()}/berth-settings-`);
    writeFileSync(`${dir}/ok.env`, 'TAG=1\n');
    writeFileSync(`${dir}/bad.env`, 'TAG=1\nhunter2\n');
    expect(run({}).manifests).toMatchObject({ composeProfiles: [], composeEnvFile: undefined });
    expect(run({ 'compose-profiles': ' a, b,,c ', 'compose-env': `${dir}/ok.env` }).manifests).toMatchObject({ composeProfiles: ['a', 'b', 'c'], composeEnvFile: `${dir}/ok.env` });
    expect(settingsFor('validate', flagsWith('validate', { 'compose-profiles': 'x' })).manifests.composeProfiles).toEqual(['x']);
    const missing = configError(() => settingsFor('validate', flagsWith('validate', { 'compose-env': `${dir}/none.env` })));
    expect([missing.code, missing.message]).toEqual(['E_CONFIG', `--compose-env ${dir}/none.env: cannot read it (ENOENT)`]);
    const bad = configError(() => run({ 'compose-env': `${dir}/bad.env` }));
    expect(bad.message).toBe(`--compose-env ${dir}/bad.env: line 2: expected KEY=value`);
    expect(bad.message).not.toContain('hunter2');
  });
});
