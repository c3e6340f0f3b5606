/**
 * Typed settings per command, parsed once from the flags at start-up: durations in milliseconds, sizes in bytes, enums
 * as unions, lists as string[]. A bad value is a one-line BerthError E_CONFIG naming the flag; commands read these
 * fields only.
 */
import { BerthError } from '../model/errors.ts';
import { parseMemory } from '../manifests/quantity.ts';
import { validateSchedule } from '../healing/gc-runner.ts';
import { reviewBranchMatcher } from '../review/branches.ts';
import type { DriftMode } from '../reconciler/reconciler.ts';
import type { Level } from '../util/log.ts';
import { FLAGS, checkSourceFlags, manifestLimits, parseDuration, parseFraction, parseListen, type Command, type Flags } from './flags.ts';

export interface LogSettings {
  level: Level;
  json: boolean;
}

/** How a revision is loaded: the manifests' directory, the host paths Volumes may mount, the size limits in bytes. */
export interface ManifestSettings {
  path: string;
  allowHostPaths: string[] | undefined;
  maxFileSize: number;
  maxRevisionSize: number;
}

/** The settings run, plan and apply share. */
export interface SourceSettings {
  repo: string;
  branch: string;
  instance: string;
  /** --docker; undefined: DOCKER_HOST or the local socket. */
  docker: string | undefined;
  stateDir: string;
  log: LogSettings;
  manifests: ManifestSettings;
}

export interface ValidateSettings {
  manifests: ManifestSettings;
}

export interface PlanSettings extends SourceSettings {
  revision: string | undefined;
  /** --format, or json with --json. */
  format: 'text' | 'json' | 'markdown';
  detailedExitcode: boolean;
}

export interface ApplySettings extends SourceSettings {
  revision: string | undefined;
  drift: DriftMode;
}

export interface StatusSettings {
  server: string;
  /** Read the status branch of this repository instead of asking a running berth. */
  repo: string | undefined;
  instance: string;
  stateDir: string;
  json: boolean;
}

/** The connection, stream and body limits of `berth run` as asked (resolved against the descriptor budget later). */
export interface TrafficSettings {
  maxConnections: number | 'auto';
  maxConnectionsPerClient: number;
  maxWatchers: number;
  maxBlockingQueries: number;
  maxStreamsPerClient: number;
  maxRequestBodies: number;
  maxBodyBuffer: number;
  bodyTimeoutMs: number;
  proxyIdleTimeoutMs: number;
}

export interface GitHubSettings {
  /** owner/name. */
  repo: string;
  token: string;
  apiUrl: string;
}

export interface ListenAddress {
  host: string;
  port: number;
  /** The flag as given (error messages). */
  address: string;
}

export interface RunSettings extends SourceSettings {
  intervalMs: number;
  listen: ListenAddress;
  drift: DriftMode;
  webhookSecret: string | undefined;
  gcSchedule: string;
  alertWebhooks: string[];
  alertMuteMs: number;
  proxyHost: string;
  traffic: TrafficSettings;
  /** --github-repo with its token; null without the flag. */
  github: GitHubSettings | null;
  /** The token in the variable --github-token-env names, if set (redacted from every output, with or without --github-repo). */
  githubToken: string | undefined;
  reviewBranches: string[];
  /** A fraction in (0, 1]. */
  memoryHighMark: number;
  nodeGraceMs: number;
  drainTimeoutMs: number;
  statusIntervalMs: number;
}

export interface SettingsOf {
  run: RunSettings;
  plan: PlanSettings;
  apply: ApplySettings;
  validate: ValidateSettings;
  status: StatusSettings;
}

type Parser<C extends Command> = (flags: Flags, env: NodeJS.ProcessEnv) => SettingsOf[C];

const PARSERS: { [C in Command]: Parser<C> } = {
  run: runSettings,
  plan: (flags) => ({
    ...sourceSettings('plan', flags),
    revision: text(flags, 'revision'),
    format: flags.json ? 'json' : oneOf(text(flags, 'format') ?? 'text', ['text', 'json', 'markdown'] as const),
    detailedExitcode: Boolean(flags['detailed-exitcode']),
  }),
  apply: (flags) => ({ ...sourceSettings('apply', flags), revision: text(flags, 'revision'), drift: drift(flags) }),
  validate: (flags) => ({ manifests: manifestSettings('validate', flags) }),
  status: (flags) => ({
    server: textOr('status', flags, 'server'), repo: text(flags, 'repo') || undefined, instance: textOr('status', flags, 'instance'),
    stateDir: textOr('status', flags, 'state-dir'), json: Boolean(flags.json),
  }),
};

/** Parses the flags of `command` once; E_CONFIG naming the flag on a bad value. */
export function settingsFor<C extends Command>(command: C, flags: Flags, env: NodeJS.ProcessEnv = process.env): SettingsOf[C] {
  const parse: Parser<C> = PARSERS[command];
  return parse(flags, env);
}

function sourceSettings(command: 'run' | 'plan' | 'apply', flags: Flags): SourceSettings {
  checkSourceFlags(flags);
  return {
    repo: textOr(command, flags, 'repo'), branch: textOr(command, flags, 'branch'), instance: textOr(command, flags, 'instance'),
    docker: text(flags, 'docker'), stateDir: textOr(command, flags, 'state-dir'),
    log: { level: oneOf(textOr(command, flags, 'log-level'), ['debug', 'info', 'warn', 'error'] as const), json: flags['log-format'] === 'json' },
    manifests: manifestSettings(command, flags),
  };
}

function manifestSettings(command: Command, flags: Flags): ManifestSettings {
  return { path: textOr(command, flags, 'path'), allowHostPaths: list(flags, 'allow-host-path'), ...manifestLimits(flags) };
}

function runSettings(flags: Flags, env: NodeJS.ProcessEnv): RunSettings {
  const source = sourceSettings('run', flags);
  const duration = (flag: string): number => parseDuration(textOr('run', flags, flag), flag);
  const reviewBranches = list(flags, 'review-branches') ?? [];
  if (reviewBranches.length) reviewBranchMatcher(reviewBranches); // a bad pattern is an E_CONFIG at start-up
  const tokenEnv = text(flags, 'github-token-env');
  const githubToken = tokenEnv ? env[tokenEnv] : undefined;
  return {
    ...source,
    intervalMs: duration('interval'),
    listen: { ...parseListen(textOr('run', flags, 'listen')), address: textOr('run', flags, 'listen') },
    drift: drift(flags),
    webhookSecret: text(flags, 'webhook-secret'),
    gcSchedule: validateSchedule(textOr('run', flags, 'gc-schedule')),
    alertWebhooks: list(flags, 'alert-webhook') ?? [],
    alertMuteMs: duration('alert-mute'),
    proxyHost: textOr('run', flags, 'proxy-host'),
    traffic: trafficSettings(flags),
    github: githubSettings(flags, tokenEnv, githubToken),
    githubToken,
    reviewBranches,
    memoryHighMark: parseFraction(textOr('run', flags, 'memory-high-mark'), 'memory-high-mark'),
    nodeGraceMs: duration('node-grace'),
    drainTimeoutMs: duration('drain-timeout'),
    statusIntervalMs: duration('status-interval'),
  };
}

/** The GitHub settings of --github-repo, with the token from the variable --github-token-env names; null without the flag. */
function githubSettings(flags: Flags, tokenEnv: string | undefined, token: string | undefined): GitHubSettings | null {
  const repo = text(flags, 'github-repo');
  if (!repo) return null;
  if (!token) throw new BerthError('E_CONFIG', `--github-repo ${repo} needs a token in the environment variable ${String(tokenEnv)} (--github-token-env)`);
  return { repo, token, apiUrl: textOr('run', flags, 'github-api-url') };
}

/** The traffic limits of `berth run` as asked; E_CONFIG on a bad flag. */
export function trafficSettings(flags: Flags): TrafficSettings {
  const asked = flags['max-connections'];
  return {
    maxConnections: asked === undefined || asked === 'auto' ? 'auto' : count(flags, 'max-connections'),
    maxWatchers: count(flags, 'max-watchers', 512),
    maxBlockingQueries: count(flags, 'max-blocking-queries', 256),
    maxConnectionsPerClient: count(flags, 'max-connections-per-client', 256),
    maxRequestBodies: count(flags, 'max-request-bodies', 32),
    maxBodyBuffer: bytes(flags, 'max-body-buffer', '16Mi'),
    bodyTimeoutMs: parseDuration(String(flags['body-timeout'] ?? '10s'), 'body-timeout'),
    maxStreamsPerClient: count(flags, 'max-streams-per-client', 32),
    proxyIdleTimeoutMs: parseDuration(String(flags['proxy-idle-timeout'] ?? '5m'), 'proxy-idle-timeout'),
  };
}

function drift(flags: Flags): DriftMode {
  return oneOf(text(flags, 'drift') ?? 'correct', ['correct', 'detect'] as const);
}

/** A value checkSourceFlags already checked, narrowed to its union. */
function oneOf<T extends string>(value: string, allowed: readonly T[]): T {
  const found = allowed.find((a) => a === value);
  if (found === undefined) throw new BerthError('E_CONFIG', `"${value}" must be one of ${allowed.join(', ')}`);
  return found;
}

function text(flags: Flags, flag: string): string | undefined {
  const v = flags[flag];
  return typeof v === 'string' ? v : undefined;
}

/** A string flag, or its default when unset. */
function textOr(command: Command, flags: Flags, flag: string): string {
  return String(flags[flag] ?? FLAGS[command][flag]?.default);
}

function list(flags: Flags, flag: string): string[] | undefined {
  const v = flags[flag];
  if (Array.isArray(v)) return v;
  return typeof v === 'string' ? [v] : undefined;
}

function count(flags: Flags, flag: string, fallback?: number): number {
  const v = flags[flag];
  if (v === undefined && fallback !== undefined) return fallback;
  const n = Number(v);
  if (typeof v !== 'string' || !/^[0-9]+$/.test(v.trim()) || !Number.isSafeInteger(n) || n < 1) {
    throw new BerthError('E_CONFIG', `--${flag}: "${String(v)}" must be a positive integer`);
  }
  return n;
}

function bytes(flags: Flags, flag: string, fallback: string): number {
  const v = String(flags[flag] ?? fallback);
  try {
    const n = parseMemory(v);
    if (n > 0) return n;
  } catch {
    // reported below
  }
  throw new BerthError('E_CONFIG', `--${flag}: "${v}" must be a size such as 16Mi or 1048576`);
}
