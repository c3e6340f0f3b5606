/**
 * Typed settings per command, parsed once from the flags at start-up: durations in milliseconds, sizes in bytes, enums
 * as unions, lists as string[]. A bad value is a one-line BerthError E_CONFIG naming the flag; commands read these
 * fields only.
 */
import { readFileSync } from 'node:fs';
import { BerthError } from '../model/errors.ts';
import { parseMemory } from '../manifests/quantity.ts';
import { validateSchedule } from '../healing/gc-runner.ts';
import { reviewBranchMatcher } from '../review/branches.ts';
import type { DriftMode } from '../reconciler/reconciler.ts';
import type { Level } from '../util/log.ts';
import { dataplanePaths, socketPathProblem } from '../dataplane/protocol.ts';
import { readComposeEnv } from '../compose/host-env.ts';
import { proxySettings, proxyWorkers, type ProxySettings } from './proxy-settings.ts';
import { FLAGS, checkSourceFlags, manifestLimits, parseDuration, parseFraction, parseListen, type Command, type Flags } from './flags.ts';

export interface LogSettings {
  level: Level;
  json: boolean;
}

/** How a revision is loaded: the manifests' directory, the host paths Volumes may mount, the size limits in bytes. */
export interface ManifestSettings {
  path: string;
  allowHostPaths: string[] | undefined;
  /** --allow-docker-socket: Volumes may mount the Docker engine socket. */
  allowDockerSocket: boolean;
  maxFileSize: number;
  maxRevisionSize: number;
  /** --compose-profiles, split on commas (empty: none given). */
  composeProfiles: string[];
  /** --compose-env: the dotenv file read at every load (checked readable at start-up). */
  composeEnvFile: string | undefined;
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
  images: ImageSettings;
  secrets: SecretSettings;
}

/** Where the age identities that decrypt `kind: Secret` files come from (read at the first create that needs them). */
export interface SecretSettings {
  /** --age-key-file: only this file; undefined: the SOPS variables of `env` and the default keys file. */
  ageKeyFile: string | undefined;
  /** The variables sops honours, taken from the environment here (the secrets module never reads process.env). */
  env: { SOPS_AGE_KEY?: string; SOPS_AGE_KEY_FILE?: string; XDG_CONFIG_HOME?: string };
}

/** Image registries: where credentials and CAs are, which registries speak plain HTTP, pulls per node. */
export interface ImageSettings {
  registryConfig: string;
  certsDir: string;
  insecure: string[];
  pullConcurrency: number;
}

export interface ValidateSettings {
  manifests: ManifestSettings;
}

/** `-o` of the read commands. */
export type OutputFormat = 'text' | 'json' | 'yaml';

export interface PlanSettings extends SourceSettings {
  revision: string | undefined;
  /** -o, else json with --json, else --format. */
  format: OutputFormat | 'markdown';
  detailedExitcode: boolean;
}

export interface ApplySettings extends SourceSettings {
  revision: string | undefined;
  drift: DriftMode;
}

/** How the CLI reaches a running berth. */
export interface ClientSettings {
  server: string;
  /** --token, BERTH_TOKEN, else the cli-token file of --state-dir (read when a request is made). */
  token: string | undefined;
  stateDir: string;
  /** PEM of the CA that signed the server's certificate. */
  ca: Buffer | undefined;
  /** Client certificate and key (PEM) for a berth that requires one. */
  cert: { cert: Buffer; key: Buffer } | undefined;
}

export interface StatusSettings {
  server: string;
  client: ClientSettings;
  /** Read the status branch of this repository instead of asking a running berth. */
  repo: string | undefined;
  instance: string;
  stateDir: string;
  /** -o, or json with --json. */
  output: OutputFormat;
}

/** `berth history`: from the status branch of --repo, or of the repository the berth at --server tracks. */
export interface HistorySettings {
  client: ClientSettings;
  repo: string | undefined;
  instance: string;
  stateDir: string;
  limit: number;
  output: OutputFormat;
}

/** `berth rollback <revision>`: a commit on --branch (or a branch berth/rollback-<rev> with --pr). */
export interface RollbackSettings {
  repo: string;
  branch: string;
  path: string;
  stateDir: string;
  pr: boolean;
  /** --github-repo with its token (with --pr); null without the flag. */
  github: GitHubSettings | null;
  /** The commit's author: GIT_AUTHOR_NAME and GIT_AUTHOR_EMAIL when both are set, else berth's. */
  author: { name: string; email: string } | undefined;
}

export interface AuditSettings {
  client: ClientSettings;
  since: string;
  output: OutputFormat;
}

export interface TokenSettings {
  stateDir: string;
  role: string | undefined;
  name: string | undefined;
  /** --expires in milliseconds; undefined = never. */
  expiresMs: number | undefined;
  namespaces: string[] | undefined;
  json: boolean;
}

/** berth's own listener: TLS, client certificates, the exceptions to authentication. */
export interface ApiSettings {
  tls: { cert: Buffer; key: Buffer; clientCa: Buffer | undefined } | undefined;
  /** --tls-client-policy path (read and checked by the operator at start). */
  clientPolicy: string | undefined;
  insecureListen: boolean;
  metricsPublic: boolean;
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
  /** --proxy-workers of the proxy process this operator starts. */
  proxyWorkers: number;
  traffic: TrafficSettings;
  /** --github-repo with its token; null without the flag. */
  github: GitHubSettings | null;
  /** --image-updates: where spec.imagePolicy's newer tags are committed. */
  imageUpdates: 'branch' | 'pr' | 'off';
  /** The token in the variable --github-token-env names, if set (redacted from every output, with or without --github-repo). */
  githubToken: string | undefined;
  reviewBranches: string[];
  /** A fraction in (0, 1]. */
  memoryHighMark: number;
  nodeGraceMs: number;
  drainTimeoutMs: number;
  statusIntervalMs: number;
  /** --autoscale-interval: the autoscaler's sync period. */
  autoscaleIntervalMs: number;
  /** --series-step: the step of the per-service metric history (metrics/series.ts). */
  seriesStepMs: number;
  /** --log-retention and --log-max-size: the bounds of the log store. */
  logs: { retentionMs: number; maxBytes: number; forwardUrl?: string };
  api: ApiSettings;
}

export interface SettingsOf {
  run: RunSettings;
  plan: PlanSettings;
  diff: PlanSettings;
  apply: ApplySettings;
  validate: ValidateSettings;
  convert: Record<string, never>;
  secret: { recipients: string[]; output: string | undefined };
  status: StatusSettings;
  history: HistorySettings;
  rollback: RollbackSettings;
  version: { output: OutputFormat };
  completion: Record<string, never>;
  token: TokenSettings;
  audit: AuditSettings;
  proxy: ProxySettings;
  'run-job': { client: ClientSettings; output: OutputFormat };
  'pause-drift': { client: ClientSettings; output: OutputFormat; reason: string | undefined };
  'resume-drift': { client: ClientSettings; output: OutputFormat };
  logs: { client: ClientSettings; params: URLSearchParams; follow: boolean; output: OutputFormat };
  events: { client: ClientSettings; params: URLSearchParams; follow: boolean; output: OutputFormat };
}

type Parser<C extends Command> = (flags: Flags, env: NodeJS.ProcessEnv) => SettingsOf[C];

const PARSERS: { [C in Command]: Parser<C> } = {
  run: runSettings,
  plan: planSettings,
  diff: planSettings,
  apply: (flags, env) => ({ ...sourceSettings('apply', flags, env), revision: text(flags, 'revision'), drift: drift(flags) }),
  validate: (flags) => ({ manifests: manifestSettings('validate', flags) }),
  convert: () => ({}),
  secret: (flags) => ({ recipients: list(flags, 'recipient') ?? [], output: text(flags, 'output') }),
  status: (flags) => ({
    server: textOr('status', flags, 'server'), client: clientSettings('status', flags), repo: text(flags, 'repo') || undefined, instance: textOr('status', flags, 'instance'),
    stateDir: textOr('status', flags, 'state-dir'), output: outputOf(flags),
  }),
  history: (flags) => ({
    client: clientSettings('history', flags), repo: text(flags, 'repo') || undefined, instance: instanceName(textOr('history', flags, 'instance')),
    stateDir: textOr('history', flags, 'state-dir'), limit: boundedCount(flags, 'limit', 20, 500), output: outputOf(flags),
  }),
  rollback: (flags, env) => {
    if (!text(flags, 'repo')) throw new BerthError('E_CONFIG', '--repo is required (an http(s) URL or a local repository path; or BERTH_REPO)');
    const tokenEnv = text(flags, 'github-token-env');
    const github = githubSettings(flags, tokenEnv, tokenEnv ? env[tokenEnv] : undefined, 'rollback');
    if (github && !flags.pr) throw new BerthError('E_CONFIG', '--github-repo goes with --pr (the pull request is opened from the rollback branch)');
    return { repo: textOr('rollback', flags, 'repo'), branch: textOr('rollback', flags, 'branch'), path: textOr('rollback', flags, 'path'), stateDir: textOr('rollback', flags, 'state-dir'), pr: Boolean(flags.pr), github,
      author: env.GIT_AUTHOR_NAME && env.GIT_AUTHOR_EMAIL ? { name: env.GIT_AUTHOR_NAME, email: env.GIT_AUTHOR_EMAIL } : undefined };
  },
  version: (flags) => ({ output: outputOf(flags) }),
  completion: () => ({}),
  token: (flags) => ({
    stateDir: textOr('token', flags, 'state-dir'), role: text(flags, 'role'), name: text(flags, 'name'),
    expiresMs: text(flags, 'expires') === undefined ? undefined : parseLifetime(text(flags, 'expires')!, 'expires'),
    namespaces: text(flags, 'namespaces')?.split(',').map((x) => x.trim()).filter(Boolean), json: Boolean(flags.json),
  }),
  audit: (flags) => ({ client: clientSettings('audit', flags), since: textOr('audit', flags, 'since'), output: outputOf(flags) }),
  proxy: proxySettings,
  'run-job': (flags) => ({ client: clientSettings('run-job', flags), output: outputOf(flags) }),
  'pause-drift': (flags) => ({ client: clientSettings('pause-drift', flags), output: outputOf(flags), reason: text(flags, 'reason') }),
  'resume-drift': (flags) => ({ client: clientSettings('resume-drift', flags), output: outputOf(flags) }),
  logs: (flags) => ({ client: clientSettings('logs', flags), ...queryOf('logs', flags, ['since', 'until', 'grep', 'search', 'stream', 'node', 'tail']) }),
  events: (flags) => ({ client: clientSettings('events', flags), ...queryOf('events', flags, ['since', 'service']) }),
};

/** The flags of berth logs / events as the API's query (the server checks them: one parser). */
function queryOf(command: 'logs' | 'events', flags: Flags, keys: string[]): { params: URLSearchParams; follow: boolean; output: OutputFormat } {
  const params = new URLSearchParams();
  for (const k of keys) {
    const v = text(flags, k);
    if (v !== undefined && v !== '') params.set(k, v);
  }
  const follow = Boolean(flags.follow);
  if (follow) params.set('follow', '1');
  return { params, follow, output: outputOf(flags) };
}

function planSettings(flags: Flags, env: NodeJS.ProcessEnv): PlanSettings {
  const output = text(flags, 'output');
  return {
    ...sourceSettings('plan', flags, env),
    revision: text(flags, 'revision'),
    format: output ? oneOf(output, ['text', 'json', 'yaml', 'markdown'] as const, '-o') : flags.json ? 'json' : oneOf(text(flags, 'format') ?? 'text', ['text', 'json', 'markdown'] as const),
    detailedExitcode: Boolean(flags['detailed-exitcode']),
  };
}

/** -o text|json|yaml; an older `--json` is -o json; text when neither is given. */
export function outputOf(flags: Flags): OutputFormat {
  const output = text(flags, 'output');
  if (output !== undefined) return oneOf(output, ['text', 'json', 'yaml'] as const, '-o');
  return flags.json === true ? 'json' : 'text';
}

function instanceName(v: string): string {
  if (!/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/.test(v)) throw new BerthError('E_CONFIG', `--instance: "${v}" must be lowercase letters, digits and '-'`);
  return v;
}

/** A positive integer flag, at most `max`. */
function boundedCount(flags: Flags, flag: string, fallback: number, max: number): number {
  const n = count(flags, flag, fallback);
  if (n > max) throw new BerthError('E_CONFIG', `--${flag}: at most ${max}, got ${n}`);
  return n;
}

function clientSettings(command: 'status' | 'history' | 'audit' | 'run-job' | 'pause-drift' | 'resume-drift' | 'logs' | 'events', flags: Flags): ClientSettings {
  const cert = text(flags, 'cert');
  const key = text(flags, 'key');
  if (Boolean(cert) !== Boolean(key)) throw new BerthError('E_CONFIG', '--cert and --key go together');
  return {
    server: textOr(command, flags, 'server'), token: text(flags, 'token') || undefined, stateDir: textOr(command, flags, 'state-dir'),
    ca: pemFile(flags, 'ca'), cert: cert && key ? { cert: pemFile(flags, 'cert')!, key: pemFile(flags, 'key')! } : undefined,
  };
}

/** The PEM file a flag names, read now: a missing or unreadable file fails the start naming the flag. */
function pemFile(flags: Flags, flag: string): Buffer | undefined {
  const file = text(flags, flag);
  if (!file) return undefined;
  let pem: Buffer;
  try {
    pem = readFileSync(file);
  } catch (err) {
    throw new BerthError('E_CONFIG', `--${flag}: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  if (!pem.includes('-----BEGIN ')) throw new BerthError('E_CONFIG', `--${flag}: ${file} is not a PEM file`);
  return pem;
}

/** `90d`, `12h`, `30m` (days are allowed here: tokens live long). */
function parseLifetime(v: string, flag: string): number {
  const m = /^(\d{1,5})(m|h|d)$/.exec(v.trim());
  if (!m || Number(m[1]) === 0) throw new BerthError('E_CONFIG', `--${flag}: "${v}" is not a lifetime (e.g. 90d, 12h, 30m)`);
  return Number(m[1]) * { m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as 'm' | 'h' | 'd'];
}

function apiSettings(flags: Flags): ApiSettings {
  const cert = pemFile(flags, 'tls-cert');
  const key = pemFile(flags, 'tls-key');
  if (Boolean(cert) !== Boolean(key)) throw new BerthError('E_CONFIG', '--tls-cert and --tls-key go together');
  const clientCa = pemFile(flags, 'tls-client-ca');
  if (clientCa && !cert) throw new BerthError('E_CONFIG', '--tls-client-ca needs --tls-cert and --tls-key (client certificates are checked over TLS)');
  const clientPolicy = text(flags, 'tls-client-policy');
  if (clientPolicy && !clientCa) throw new BerthError('E_CONFIG', '--tls-client-policy needs --tls-client-ca');
  return { tls: cert && key ? { cert, key, clientCa } : undefined, clientPolicy, insecureListen: Boolean(flags['insecure-listen']), metricsPublic: Boolean(flags['metrics-public']) };
}

/** Parses the flags of `command` once; E_CONFIG naming the flag on a bad value. */
export function settingsFor<C extends Command>(command: C, flags: Flags, env: NodeJS.ProcessEnv = process.env): SettingsOf[C] {
  const parse: Parser<C> = PARSERS[command];
  return parse(flags, env);
}

function sourceSettings(command: 'run' | 'plan' | 'apply', flags: Flags, env: NodeJS.ProcessEnv): SourceSettings {
  checkSourceFlags(flags);
  return {
    repo: textOr(command, flags, 'repo'), branch: textOr(command, flags, 'branch'), instance: textOr(command, flags, 'instance'),
    docker: text(flags, 'docker'), stateDir: textOr(command, flags, 'state-dir'),
    log: { level: oneOf(textOr(command, flags, 'log-level'), ['debug', 'info', 'warn', 'error'] as const), json: flags['log-format'] === 'json' },
    manifests: manifestSettings(command, flags),
    images: imageSettings(command, flags),
    secrets: secretSettings(flags, env),
  };
}

function secretSettings(flags: Flags, env: NodeJS.ProcessEnv): SecretSettings {
  const pick = (name: 'SOPS_AGE_KEY' | 'SOPS_AGE_KEY_FILE' | 'XDG_CONFIG_HOME') => (env[name] ? { [name]: env[name] } : {});
  return { ageKeyFile: text(flags, 'age-key-file') || undefined, env: { ...pick('SOPS_AGE_KEY'), ...pick('SOPS_AGE_KEY_FILE'), ...pick('XDG_CONFIG_HOME') } };
}

function imageUpdatesMode(flags: Flags): 'branch' | 'pr' | 'off' {
  const mode = oneOf(textOr('run', flags, 'image-updates'), ['branch', 'pr', 'off'] as const);
  if (mode === 'pr' && !text(flags, 'github-repo')) throw new BerthError('E_CONFIG', '--image-updates pr needs --github-repo (the pull requests are opened there)');
  return mode;
}

function imageSettings(command: 'run' | 'plan' | 'apply', flags: Flags): ImageSettings {
  const concurrency = Number(textOr(command, flags, 'pull-concurrency'));
  if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 64) throw new BerthError('E_CONFIG', `--pull-concurrency must be an integer from 1 to 64, got ${textOr(command, flags, 'pull-concurrency')}`);
  return { registryConfig: textOr(command, flags, 'registry-config'), certsDir: textOr(command, flags, 'registry-certs-dir'), insecure: list(flags, 'insecure-registry') ?? [], pullConcurrency: concurrency };
}

function manifestSettings(command: Command, flags: Flags): ManifestSettings {
  const composeProfiles = (list(flags, 'compose-profiles') ?? []).flatMap((p) => p.split(',')).map((p) => p.trim()).filter(Boolean);
  const composeEnvFile = text(flags, 'compose-env') || undefined;
  if (composeEnvFile) readComposeEnv(composeEnvFile); // a missing or malformed file is an E_CONFIG at start-up (values dropped)
  return { path: textOr(command, flags, 'path'), allowHostPaths: list(flags, 'allow-host-path'), allowDockerSocket: flags['allow-docker-socket'] === true, ...manifestLimits(flags), composeProfiles, composeEnvFile };
}

function runSettings(flags: Flags, env: NodeJS.ProcessEnv): RunSettings {
  const source = sourceSettings('run', flags, env);
  const socketProblem = socketPathProblem(dataplanePaths(source.stateDir, source.instance)); // the proxy process's
  if (socketProblem) throw new BerthError('E_CONFIG', socketProblem);
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
    proxyWorkers: proxyWorkers(flags),
    traffic: trafficSettings(flags),
    github: githubSettings(flags, tokenEnv, githubToken),
    imageUpdates: imageUpdatesMode(flags),
    githubToken,
    reviewBranches,
    memoryHighMark: parseFraction(textOr('run', flags, 'memory-high-mark'), 'memory-high-mark'),
    nodeGraceMs: duration('node-grace'),
    drainTimeoutMs: duration('drain-timeout'),
    statusIntervalMs: duration('status-interval'),
    autoscaleIntervalMs: duration('autoscale-interval'),
    seriesStepMs: duration('series-step'),
    logs: { retentionMs: retention(textOr('run', flags, 'log-retention')), maxBytes: storeSize(textOr('run', flags, 'log-max-size')), ...forwardUrl(text(flags, 'log-forward')) },
    api: apiSettings(flags),
  };
}

/** The GitHub settings of --github-repo, with the token from the variable --github-token-env names; null without the flag. */
function githubSettings(flags: Flags, tokenEnv: string | undefined, token: string | undefined, command: 'run' | 'rollback' = 'run'): GitHubSettings | null {
  const repo = text(flags, 'github-repo');
  if (!repo) return null;
  if (!token) throw new BerthError('E_CONFIG', `--github-repo ${repo} needs a token in the environment variable ${String(tokenEnv)} (--github-token-env)`);
  return { repo, token, apiUrl: textOr(command, flags, 'github-api-url') };
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
function oneOf<T extends string>(value: string, allowed: readonly T[], flag?: string): T {
  const found = allowed.find((a) => a === value);
  if (found === undefined) throw new BerthError('E_CONFIG', `${flag ? `${flag}: ` : ''}"${value}" must be one of ${allowed.join(', ')}`);
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

/** --log-retention: `30m`, `48h`, `7d` (at least a minute, at most 10 years). */
function retention(v: string): number {
  const m = /^(\d{1,6})(m|h|d)$/.exec(v.trim());
  const ms = m ? Number(m[1]) * { m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as 'm' | 'h' | 'd'] : NaN;
  if (!(ms >= 60_000 && ms <= 3650 * 86_400_000)) throw new BerthError('E_CONFIG', `--log-retention: "${v}" is not a retention of a minute or more (30m, 48h, 7d)`);
  return ms;
}

/** --log-max-size: a quantity of at least 16Mi. */
function storeSize(v: string): number {
  let bytes: number;
  try {
    bytes = parseMemory(v);
  } catch {
    throw new BerthError('E_CONFIG', `--log-max-size: "${v}" is not a size (512Mi, 1Gi, 10Gi)`);
  }
  if (!(bytes >= 16 * 1024 * 1024)) throw new BerthError('E_CONFIG', `--log-max-size: "${v}" is less than 16Mi`);
  return bytes;
}

/** --log-forward: an http(s) URL (its credentials, if any, are redacted like every secret). */
function forwardUrl(v: string | undefined): { forwardUrl?: string } {
  if (!v) return {};
  let url: URL;
  try {
    url = new URL(v);
  } catch {
    throw new BerthError('E_CONFIG', '--log-forward: not a URL (e.g. http://collector:4318/v1/logs)');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new BerthError('E_CONFIG', '--log-forward: an http:// or https:// URL');
  return { forwardUrl: v };
}
