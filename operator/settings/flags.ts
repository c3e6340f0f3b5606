/** Settings from flags and BERTH_* environment variables, validated once. */
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { BerthError } from '../model/errors.ts';
import { TIMER_MAX_MS, formatDuration, parseDuration as parseManifestDuration, parseMemory } from '../manifests/quantity.ts';

export type Command = 'run' | 'plan' | 'diff' | 'apply' | 'validate' | 'convert' | 'secret' | 'status' | 'history' | 'rollback' | 'token' | 'audit' | 'proxy' | 'run-job' | 'pause-drift' | 'resume-drift' | 'logs' | 'events' | 'version' | 'completion';
export const COMMANDS: Command[] = ['run', 'plan', 'diff', 'apply', 'validate', 'convert', 'secret', 'status', 'history', 'rollback', 'token', 'audit', 'proxy', 'run-job', 'pause-drift', 'resume-drift', 'logs', 'events', 'version', 'completion'];
/** The width of the command column in --help: the longest name and two spaces. */
const COMMAND_WIDTH = Math.max(...COMMANDS.map((c) => c.length)) + 2;

/** One line per command: `berth --help` and the shell completions (commands/completion.ts) show these. */
export const COMMAND_SUMMARY: Record<Command, string> = {
  run: 'watch the repository and keep the engine converged (serves /healthz, /metrics, /v1/status, POST /hooks/git)',
  plan: 'print what applying a revision would change',
  diff: '[<ref>]: plan against a ref (alias of plan --revision <ref>)',
  apply: 'one pass: apply a revision; exit 0 only when converged',
  validate: 'check a manifests directory; exit 1 with file:line:col errors',
  convert: 'print the berth manifests a compose file becomes (after the checks validate makes)',
  secret: 'encrypt <file>: write <file>.age for age recipients (--recipient, or the nearest .sops.yaml), for a kind: Secret',
  status: 'print the status of a running berth (or of the status branch with --repo)',
  history: 'the applied revisions with result and duration (status branch and git log)',
  rollback: '<revision>: commit (or open a pull request with --pr) restoring the manifests of that revision',
  token: 'create | list | revoke <name>: API tokens of the berth using --state-dir',
  audit: 'print the audit trail of a running berth (state-changing calls, applied actions)',
  logs: '<namespace>/<service>[/<replica>]: the stored output of its containers, across replacements (-f follows)',
  events: 'what berth did and why (applied actions, rollbacks, health, failed passes; -f follows)',
  'run-job': '<namespace>/<name>: start one run of the template of a CronJob now (recorded as berth.run=manual-<time>)',
  'pause-drift': '<namespace>/<name>: stop correcting drift of one Service (changes from git still apply; status shows the drift left)',
  'resume-drift': '<namespace>/<name>: correct drift of a Service paused with pause-drift again (the next pass does)',
  proxy: 'the data plane: the listeners of loadBalancer.publish and Routes (berth run starts it; --stop stops it)',
  version: 'the version (-o json: with the Node.js version and platform)',
  completion: 'bash | zsh | fish: print a shell completion script',
};

interface FlagSpec {
  type: 'string' | 'boolean';
  default?: string;
  /** Repeatable (`--alert-webhook A --alert-webhook B`; comma-separated in the environment). */
  multiple?: boolean;
  /** A one-letter alias (`-f`). */
  short?: string;
  /** The values it takes, offered by the shell completions. */
  choices?: readonly string[];
  help: string;
}

/** `-o` / `--output` of the read commands (kubectl's, argocd's); with no default where an older --json / --format stays an alias. */
function outputFlag(dflt: string | undefined, choices: readonly string[] = ['text', 'json', 'yaml']): FlagSpec {
  return { type: 'string', short: 'o', choices, ...(dflt ? { default: dflt } : {}), help: `${choices.join(' | ')}${dflt ? '' : ' (default text)'}` };
}

const SOURCE: Record<string, FlagSpec> = {
  repo: { type: 'string', help: 'manifests repository: http(s) URL or local repository path (required)' },
  branch: { type: 'string', default: 'main', help: 'branch to track' },
  path: { type: 'string', default: '.', help: 'directory of the manifests inside the repository' },
  instance: { type: 'string', default: 'default', help: 'name of this berth instance (labels, status file)' },
  docker: { type: 'string', help: 'Docker endpoint: unix:///var/run/docker.sock, tcp://host:2376 (default DOCKER_HOST or the local socket)' },
  'state-dir': { type: 'string', default: path.join(os.homedir(), '.cache', 'berth'), help: 'where clones of remote repositories, the API tokens file and the audit trail are kept' },
  'log-level': { type: 'string', default: 'info', help: 'debug | info | warn | error' },
  'log-format': { type: 'string', default: 'text', help: 'text | json' },
  'allow-host-path': { type: 'string', multiple: true, help: 'a Volume may mount host paths (bind mounts, host devices) only below this absolute path; repeatable (default: none)' },
  'allow-docker-socket': { type: 'boolean', help: 'a Volume may mount the Docker engine socket (a path ending in docker.sock, or a directory holding it such as /var/run); it still needs --allow-host-path (default: refused)' },
  'max-file-size': { type: 'string', default: '1Mi', help: 'a manifest file larger than this rejects the revision (checked before parsing)' },
  'max-revision-size': { type: 'string', default: '16Mi', help: 'manifest files larger than this all together reject the revision (checked before parsing)' },
  'registry-config': { type: 'string', default: path.join(os.homedir(), '.docker', 'config.json'), help: 'Docker config.json with the image registries\' credentials (auths, credHelpers, credsStore), as `docker login` writes it' },
  'registry-certs-dir': { type: 'string', default: '/etc/docker/certs.d', help: 'CA certificates of image registries, <dir>/<host:port>/*.crt, as dockerd reads them' },
  'insecure-registry': { type: 'string', multiple: true, help: 'an image registry (host:port) spoken to over plain HTTP; repeatable (loopback ones fall back to HTTP by themselves)' },
  'pull-concurrency': { type: 'string', default: '3', help: 'image pulls running at once on one node' },
  'compose-profiles': { type: 'string', help: 'compose profiles that are active, comma-separated: services with profiles start only when one of theirs is (default: COMPOSE_PROFILES of the .env, else none)' },
  'compose-env': { type: 'string', help: 'dotenv file on this host whose variables compose files are interpolated with, over the .env beside each (read at every load; at most 1 MiB; values never logged)' },
  'age-key-file': { type: 'string', help: 'age identities (age-keygen output) that decrypt kind: Secret files at apply time; only this file is read (default: SOPS_AGE_KEY, SOPS_AGE_KEY_FILE and ~/.config/sops/age/keys.txt, as sops reads them)' },
};

/** How the CLI reaches a running berth: address, credentials, the CA of its certificate. */
const CLIENT: Record<string, FlagSpec> = {
  server: { type: 'string', default: 'http://127.0.0.1:7070', help: 'address of a running berth (https://... with --ca when it serves TLS)' },
  token: { type: 'string', help: 'API token (prefer BERTH_TOKEN: a flag shows in the process list; default: <state-dir>/cli-token, written by berth run)' },
  ca: { type: 'string', help: 'PEM file of the CA that signed the server certificate (--server https://...)' },
  cert: { type: 'string', help: 'client certificate (PEM) for a berth that requires one (--tls-client-ca)' },
  key: { type: 'string', help: 'key of --cert (PEM)' },
  'state-dir': SOURCE['state-dir']!,
};

const PLAN: Record<string, FlagSpec> = {
  ...SOURCE,
  revision: { type: 'string', help: 'plan this ref or commit instead of the branch head' },
  output: outputFlag(undefined, ['text', 'json', 'yaml', 'markdown']),
  json: { type: 'boolean', help: 'print the plan as JSON (same as -o json)' },
  format: { type: 'string', default: 'text', choices: ['text', 'json', 'markdown'], help: 'text | json | markdown (the pull request comment; same as -o)' },
  'detailed-exitcode': { type: 'boolean', help: 'exit 2 when there are changes, 0 when none, 1 on error' },
};

export const FLAGS: Record<Command, Record<string, FlagSpec>> = {
  run: {
    ...SOURCE,
    interval: { type: 'string', default: '30s', help: 'resync interval (e.g. 30s, 2m)' },
    listen: { type: 'string', default: '127.0.0.1:7070', help: 'HTTP address for /healthz, /metrics, /v1/status and POST /hooks/git' },
    drift: { type: 'string', default: 'correct', help: 'correct | detect: fix drift on the engine, or only report it' },
    'webhook-secret': { type: 'string', help: 'secret the forges sign POST /hooks/git with (prefer BERTH_WEBHOOK_SECRET: a flag shows in the process list)' },
    'gc-schedule': { type: 'string', default: '*/10 * * * *', help: 'cron schedule of garbage collection (exited berth containers, old berth images)' },
    'alert-webhook': { type: 'string', multiple: true, help: 'URL receiving JSON alerts (Slack-compatible `text`); repeatable' },
    'alert-mute': { type: 'string', default: '10m', help: 'repeats of the same alert within this window are muted' },
    'log-retention': { type: 'string', default: '7d', help: 'container output lines and events older than this are dropped from the log store (<state-dir>/logs-<instance>.db): 30m, 48h, 7d' },
    'log-forward': { type: 'string', help: 'also send every stored line to this OpenTelemetry logs endpoint (OTLP over HTTP, e.g. http://collector:4318/v1/logs); headers from OTEL_EXPORTER_OTLP_HEADERS' },
    'log-max-size': { type: 'string', default: '1Gi', help: 'the log store is kept under this size, oldest lines dropped first (512Mi, 1Gi, 10Gi)' },
    'proxy-host': { type: 'string', default: '0.0.0.0', help: 'address the proxies of loadBalancer.publish and Routes listen on when the manifest names none' },
    'proxy-idle-timeout': { type: 'string', default: '5m', help: 'a proxied connection (TCP or HTTP) with no byte either way for this long is closed' },
    'proxy-workers': { type: 'string', default: 'auto', help: 'processes of the proxy process serving the same listeners (node:cluster, the kernel spreads connections); auto: the number of cores' },
    'max-connections': { type: 'string', default: 'auto', help: 'client connections the API server, proxies and Routes hold together; auto: (ulimit -n minus max(256, 25%)) / 2, at most 16384' },
    'max-connections-per-client': { type: 'string', default: '256', help: 'connections one client address may hold on one listener; beyond, new ones are closed at once' },
    'max-watchers': { type: 'string', default: '512', help: 'SSE watchers (GET /v1/watch) open at once; beyond: 503' },
    'max-blocking-queries': { type: 'string', default: '256', help: 'blocking queries (?index=N&wait=) waiting at once; beyond: 503' },
    'max-streams-per-client': { type: 'string', default: '32', help: 'SSE watchers, and blocking queries, one client address may hold; beyond: 429' },
    'max-request-bodies': { type: 'string', default: '32', help: 'request bodies (webhook, registry PUTs) being read at once; beyond: 503' },
    'max-body-buffer': { type: 'string', default: '16Mi', help: 'bytes buffered for the request bodies being read, all together; beyond: 503' },
    'body-timeout': { type: 'string', default: '10s', help: 'a request body must arrive within this long, else 408' },
    'github-repo': { type: 'string', help: 'owner/name on GitHub: plan comments and berth/plan statuses on pull requests, berth/sync after merges' },
    'github-token-env': { type: 'string', default: 'GITHUB_TOKEN', help: 'environment variable holding the GitHub token (never logged)' },
    'github-api-url': { type: 'string', default: 'https://api.github.com', help: 'GitHub API root (GitHub Enterprise: https://host/api/v3)' },
    'image-updates': { type: 'string', default: 'branch', help: 'where berth commits a newer tag chosen by a spec.imagePolicy: branch (the tracked branch), pr (a branch berth/image-updates/<ns>/<name> and a pull request; needs --github-repo) or off' },
    'review-branches': { type: 'string', multiple: true, help: "glob of plain-git review branches (e.g. 'review/*'); their plans go to the status branch; repeatable" },
    'memory-high-mark': { type: 'string', default: '90%', help: "a node whose containers use more of its memory capacity than this stops its lowest-priority replicas first" },
    'node-grace': { type: 'string', default: '10s', help: 'a node (engine) silent this long is NotReady and its replicas are rescheduled elsewhere' },
    'drain-timeout': { type: 'string', default: '10s', help: 'longest wait for a leaving replica\'s proxied connections to finish before it is stopped' },
    'tls-cert': { type: 'string', help: 'serve the API over HTTPS with this certificate (PEM file)' },
    'tls-key': { type: 'string', help: 'key of --tls-cert (PEM file)' },
    'tls-client-ca': { type: 'string', help: 'require every API client to present a certificate signed by this CA (PEM file); roles from --tls-client-policy' },
    'tls-client-policy': { type: 'string', help: 'YAML file mapping client certificate subjects (CN or SAN) to roles and namespaces' },
    'insecure-listen': { type: 'boolean', help: 'listen on a non-loopback --listen address without TLS or without credentials (warned at every start)' },
    'metrics-public': { type: 'boolean', help: 'serve GET /metrics without credentials (scrapers that cannot send a token)' },
    'autoscale-interval': { type: 'string', default: '15s', help: 'how often autoscaled services are measured and their replica counts decided (the HPA\'s sync period)' },
    'series-step': { type: 'string', default: '10s', help: 'how often the per-service history of GET /v1/series (the dashboard\'s charts) takes a point; 360 points are kept' },
    'status-interval': { type: 'string', default: '30s', help: 'status commits of changes that are not transitions (revision, Ready, Stalled) are made at most this often; /v1/status is always live' },
  },
  plan: PLAN,
  diff: PLAN,
  apply: {
    ...SOURCE,
    revision: { type: 'string', help: 'apply this ref or commit instead of the branch head' },
    drift: { type: 'string', default: 'correct', help: 'correct | detect' },
  },
  convert: {},
  secret: {
    recipient: { type: 'string', multiple: true, help: 'encrypt: an age recipient (age1...); repeatable (default: the age recipients of the first matching creation rule of the nearest .sops.yaml)' },
    output: { type: 'string', help: 'encrypt: where to write the armored age file (default <file>.age)' },
  },
  validate: {
    path: { type: 'string', default: '.', help: 'directory of the manifests inside <dir>' },
    'allow-host-path': SOURCE['allow-host-path']!,
    'allow-docker-socket': SOURCE['allow-docker-socket']!,
    'max-file-size': SOURCE['max-file-size']!,
    'max-revision-size': SOURCE['max-revision-size']!,
    'compose-profiles': SOURCE['compose-profiles']!,
    'compose-env': SOURCE['compose-env']!,
  },
  status: {
    ...CLIENT,
    repo: { type: 'string', help: 'read the status branch of this repository instead of asking a running berth' },
    instance: { type: 'string', default: 'default', help: 'instance whose status to read (with --repo)' },
    output: outputFlag(undefined),
    json: { type: 'boolean', help: 'print JSON (same as -o json)' },
  },
  history: {
    ...CLIENT,
    repo: { type: 'string', help: 'read the status branch of this repository (default: the repository the berth at --server tracks, from its /v1/status)' },
    instance: { type: 'string', default: 'default', help: 'instance whose history to read' },
    limit: { type: 'string', default: '20', help: 'the last N applied revisions (at most 500)' },
    output: outputFlag('text'),
  },
  rollback: {
    repo: SOURCE.repo!,
    branch: SOURCE.branch!,
    path: { ...SOURCE.path!, help: 'directory of the manifests inside the repository: only it is restored' },
    'state-dir': SOURCE['state-dir']!,
    pr: { type: 'boolean', help: 'push a branch berth/rollback-<revision> instead of the tracked branch (and open a pull request with --github-repo)' },
    'github-repo': { type: 'string', help: 'with --pr: owner/name on GitHub where the pull request is opened' },
    'github-token-env': { type: 'string', default: 'GITHUB_TOKEN', help: 'environment variable holding the GitHub token (never logged)' },
    'github-api-url': { type: 'string', default: 'https://api.github.com', help: 'GitHub API root (GitHub Enterprise: https://host/api/v3)' },
  },
  version: { output: outputFlag('text', ['text', 'json', 'yaml']) },
  completion: {},
  token: {
    'state-dir': SOURCE['state-dir']!,
    role: { type: 'string', help: 'create: viewer | operator | admin' },
    name: { type: 'string', help: 'create: a name for the token (shown in the audit trail)' },
    expires: { type: 'string', help: 'create: lifetime, e.g. 90d, 12h (default: never)' },
    namespaces: { type: 'string', help: "create: namespaces an operator token may change, comma-separated ('*' = all)" },
    json: { type: 'boolean', help: 'list: print JSON' },
  },
  proxy: {
    'state-dir': { ...SOURCE['state-dir']!, help: 'the state dir of berth run: the proxy keeps its socket, key, pid, log and last configuration there' },
    instance: SOURCE.instance!,
    'proxy-host': { type: 'string', default: '0.0.0.0', help: 'address the listeners of loadBalancer.publish and Routes use when the manifest names none' },
    'proxy-idle-timeout': { type: 'string', default: '5m', help: 'a proxied connection (TCP or HTTP) with no byte either way for this long is closed' },
    'proxy-workers': { type: 'string', default: 'auto', help: 'processes of the proxy process serving the same listeners (node:cluster, the kernel spreads connections); auto: the number of cores' },
    'max-connections': { type: 'string', default: 'auto', help: 'client connections all listeners hold together; auto: (ulimit -n minus max(256, 25%)) / 2, at most 16384' },
    'max-connections-per-client': { type: 'string', default: '256', help: 'connections one client address may hold on one listener; beyond, new ones are closed at once' },
    stop: { type: 'boolean', help: 'stop the running proxy process of --instance (its pid is in <state-dir>/proxy-<instance>.pid) and exit' },
    'log-level': SOURCE['log-level']!,
    'log-format': SOURCE['log-format']!,
  },
  audit: {
    ...CLIENT,
    since: { type: 'string', default: '24h', help: 'entries since this long ago (30m, 24h, 7d) or an ISO time' },
    output: outputFlag(undefined),
    json: { type: 'boolean', help: 'print JSON lines (same as -o json)' },
  },
  'run-job': {
    ...CLIENT,
    output: outputFlag(undefined),
    json: { type: 'boolean', help: 'print the answer as JSON (same as -o json)' },
  },
  'pause-drift': {
    ...CLIENT,
    reason: { type: 'string', help: 'why, shown in status and events (at most 200 characters)' },
    output: outputFlag(undefined),
    json: { type: 'boolean', help: 'print the answer as JSON (same as -o json)' },
  },
  'resume-drift': {
    ...CLIENT,
    output: outputFlag(undefined),
    json: { type: 'boolean', help: 'print the answer as JSON (same as -o json)' },
  },
  logs: {
    ...CLIENT,
    since: { type: 'string', help: 'lines since this long ago (30s, 10m, 24h, 7d) or an ISO time' },
    until: { type: 'string', help: 'lines before this long ago or an ISO time' },
    grep: { type: 'string', help: 'only lines matching this RE2 regular expression (Go syntax)' },
    search: { type: 'string', help: 'only lines holding all these words (full-text, case-insensitive)' },
    stream: { type: 'string', help: 'stdout | stderr' },
    node: { type: 'string', help: 'only lines of containers on this node' },
    tail: { type: 'string', help: 'the last N lines (default all, at most 10000)' },
    follow: { type: 'boolean', short: 'f', help: 'then print new lines as they come, across replacements, until interrupted' },
    output: { ...outputFlag('text'), help: 'text | json (one JSON object a line) | yaml (one document per line)' },
  },
  events: {
    ...CLIENT,
    since: { type: 'string', default: '1h', help: 'events since this long ago (30s, 10m, 24h, 7d) or an ISO time' },
    service: { type: 'string', help: 'only events of this <namespace>/<name>' },
    follow: { type: 'boolean', short: 'f', help: 'then print new events as they come, until interrupted' },
    output: { ...outputFlag('text'), help: 'text | json (one JSON object an event) | yaml (one document per event)' },
  },
};

export type Flags = Record<string, string | boolean | string[] | undefined>;

export interface Parsed {
  /** null for the top-level `berth --help`. */
  command: Command | null;
  flags: Flags;
  positionals: string[];
  help: boolean;
  /** `berth --version`. */
  version?: boolean;
}

/** Parses `argv` (without node and script) for one command; unknown flags are a BerthError E_CONFIG. */
export function parseCommandLine(argv: string[], env: NodeJS.ProcessEnv = process.env): Parsed {
  const [cmd, ...rest] = argv;
  if (!cmd || cmd === '--help' || cmd === '-h' || cmd === 'help') return { command: null, flags: {}, positionals: [], help: true };
  if (cmd === '--version' || cmd === '-v') return { command: null, flags: {}, positionals: [], help: false, version: true };
  if (!COMMANDS.includes(cmd as Command)) throw new BerthError('E_CONFIG', `unknown command "${cmd}" (commands: ${COMMANDS.join(', ')})`);
  const command = cmd as Command;
  const specs = FLAGS[command];
  const options = Object.fromEntries(Object.entries(specs).map(([k, s]) => [k, { type: s.type, multiple: s.multiple ?? false, ...(s.short ? { short: s.short } : {}) }]));
  let values: Record<string, string | boolean | (string | boolean)[] | undefined>;
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({ args: rest, options: { ...options, help: { type: 'boolean', short: 'h' } }, allowPositionals: command === 'validate' || command === 'token' || command === 'convert' || command === 'secret' || command === 'run-job' || command === 'pause-drift' || command === 'resume-drift' || command === 'logs' || command === 'diff' || command === 'rollback' || command === 'completion', strict: true }));
  } catch (err) {
    throw new BerthError('E_CONFIG', `${command}: ${(err as Error).message.split('\n')[0]} (see berth ${command} --help)`);
  }
  const flags: Flags = {};
  for (const [k, s] of Object.entries(specs)) {
    const fromEnv = env[`BERTH_${k.toUpperCase().replace(/-/g, '_')}`];
    const envValue = fromEnv === undefined ? undefined : s.type === 'boolean' ? fromEnv === 'true' || fromEnv === '1' : s.multiple ? fromEnv.split(',').filter(Boolean) : fromEnv;
    flags[k] = (values[k] as Flags[string]) ?? envValue ?? s.default;
  }
  return { command, flags, positionals, help: values.help === true };
}

/** A flag's duration (`30s`, `500ms`, `2m`, `1m30s`, or plain seconds) in milliseconds; the manifests' format. */
export function parseDuration(s: string, flag: string): number {
  let ms: number;
  try {
    ms = parseManifestDuration(/^\d+$/.test(s.trim()) ? Number(s) : s);
  } catch {
    throw new BerthError('E_CONFIG', `--${flag}: "${s}" is not a duration (e.g. 30s, 500ms, 2m)`);
  }
  if (ms <= 0) throw new BerthError('E_CONFIG', `--${flag}: must be positive`);
  // A longer timer fires at once (Node.js TimeoutOverflowWarning): refuse it rather than loop.
  if (ms > TIMER_MAX_MS) throw new BerthError('E_CONFIG', `--${flag}: "${s}" is longer than a timer can wait (at most ${formatDuration(TIMER_MAX_MS)})`);
  return ms;
}

/** `host:port` → parts; `[::1]:7070` works too. */
export function parseListen(s: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(s);
  const port = Number(m?.[3]);
  if (!m || !Number.isInteger(port) || port < 0 || port > 65535) throw new BerthError('E_CONFIG', `--listen: "${s}" is not host:port`);
  return { host: m[1] ?? (m[2] || '127.0.0.1'), port };
}

const NAME = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

/** Checks flags shared by run/plan/apply. */
export function checkSourceFlags(flags: Flags): void {
  if (!flags.repo) throw new BerthError('E_CONFIG', '--repo is required (an http(s) URL or a local repository path; or BERTH_REPO)');
  if (!NAME.test(String(flags.instance))) throw new BerthError('E_CONFIG', `--instance: "${flags.instance}" must be lowercase letters, digits and '-'`);
  if (flags.drift !== undefined && flags.drift !== 'correct' && flags.drift !== 'detect') throw new BerthError('E_CONFIG', `--drift: "${flags.drift}" must be correct or detect`);
  if (!['debug', 'info', 'warn', 'error'].includes(String(flags['log-level']))) throw new BerthError('E_CONFIG', `--log-level: "${flags['log-level']}" must be debug, info, warn or error`);
  if (flags.format !== undefined && !['text', 'json', 'markdown'].includes(String(flags.format))) throw new BerthError('E_CONFIG', `--format: "${flags.format}" must be text, json or markdown`);
  if (flags.output !== undefined && !['text', 'json', 'yaml', 'markdown'].includes(String(flags.output))) throw new BerthError('E_CONFIG', `-o/--output: "${flags.output}" must be text, json, yaml or markdown`);
  if (!['text', 'json'].includes(String(flags['log-format']))) throw new BerthError('E_CONFIG', `--log-format: "${flags['log-format']}" must be text or json`);
  manifestLimits(flags);
}

/** --max-file-size and --max-revision-size in bytes (quantities such as 1Mi, 512Ki, 2M or plain bytes), for loadDesired. */
export function manifestLimits(flags: Flags): { maxFileSize: number; maxRevisionSize: number } {
  const size = (flag: string): number => {
    const v = String(flags[flag] ?? SOURCE[flag]?.default);
    let n = 0;
    try {
      n = parseMemory(v);
    } catch {
      // reported below
    }
    if (n <= 0) throw new BerthError('E_CONFIG', `--${flag}: "${v}" must be a positive size such as 1Mi, 512Ki or 1048576`);
    return n;
  };
  return { maxFileSize: size('max-file-size'), maxRevisionSize: size('max-revision-size') };
}

/** `90%` or `0.9` -> 0.9; E_CONFIG outside (0, 1]. */
export function parseFraction(value: string, flag: string): number {
  const n = value.endsWith('%') ? Number(value.slice(0, -1)) / 100 : Number(value);
  if (!(n > 0 && n <= 1)) throw new BerthError('E_CONFIG', `--${flag}: "${value}" must be a fraction in (0, 1] or a percentage such as 90%`);
  return n;
}

/** The --help text of a command. */
export function helpText(command?: Command): string {
  if (!command) {
    return ['usage: berth <command> [flags]', '', 'commands:',
      ...COMMANDS.map((c) => `  ${c.padEnd(COMMAND_WIDTH)}${COMMAND_SUMMARY[c]}`),
      '', 'Every flag can also be set as BERTH_<FLAG> (e.g. BERTH_REPO, BERTH_WEBHOOK_SECRET).', 'berth <command> --help shows its flags; berth --version the version.',
      '', 'exit codes: 0 ok; 1 failed (invalid manifests, not converged, not ready); 2 plan --detailed-exitcode: changes;',
      '            3 status: berth (or the status branch) could not be reached'].join('\n');
  }
  const usage = command === 'validate' ? 'berth validate <dir> [flags]' : command === 'convert' ? 'berth convert <compose file>' : command === 'secret' ? 'berth secret encrypt <file> [flags]' : command === 'token' ? 'berth token create --role <role> --name <name> | list | revoke <name> [flags]' : command === 'run-job' ? 'berth run-job <namespace>/<name> [flags]' : command === 'pause-drift' || command === 'resume-drift' ? `berth ${command} <namespace>/<name> [flags]` : command === 'logs' ? 'berth logs <namespace>/<service>[/<replica>] [flags]' : command === 'diff' ? 'berth diff [<ref>] [flags]' : command === 'rollback' ? 'berth rollback <revision> [flags]' : command === 'completion' ? 'berth completion bash|zsh|fish' : `berth ${command} [flags]`;
  const lines = Object.entries(FLAGS[command]).map(([k, s]) => `  ${s.short ? `-${s.short}, ` : ''}--${(k + (s.type === 'string' ? ' <v>' : '')).padEnd(s.short ? 20 : 24)} ${s.help}${s.default ? ` (default ${s.default})` : ''}`);
  return [`usage: ${usage}`, '', 'flags:', ...lines, '  --help, -h'.padEnd(28) + ' show this help'].join('\n');
}

/** The defaults of a command's flags, with `overrides` on top (tests, benchmarks, npm start). */
export function flagsWith(command: Command, overrides: Flags): Flags {
  const flags: Flags = {};
  for (const [k, s] of Object.entries(FLAGS[command])) flags[k] = s.default;
  return { ...flags, ...overrides };
}
