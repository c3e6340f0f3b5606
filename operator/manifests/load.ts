/** loadDesired: a repository snapshot -> validated desired state, or every issue of the revision. */
import { BerthError, ValidationError } from '../model/errors.ts';
import type { DesiredState } from '../model/state.ts';
import type { RepoSnapshot } from '../source/source.ts';
import { checkBuilds, normalizeRoot } from './build-context.ts';
import { buildDesired } from './desired.ts';
import { capIssues, parseEntries, sortIssues } from './parse.ts';
import { resolveLimits } from './limits.ts';
import { readManifests } from './read-manifests.ts';
import { loadInWorker } from './worker-client.ts';
import type { YamlFile } from './yaml-source.ts';
import { checkScripts, withRepoScriptPaths } from './script-check.ts';
import { dockerSocketIssues, hostPathIssues } from './kinds/volume/checks.ts';
import { tlsFileIssues } from './kinds/route/tls-checks.ts';
import { securityWarnings } from './security-checks.ts';
import { checkSecretFiles, secretKeyIssues } from './kinds/secret/files.ts';
import { checkServiceFiles } from './kinds/service/files.ts';
import { containerEntries, viewIssues } from './kinds/job/view.ts';

export interface LoadOptions {
  /** berth instance name (part of Docker volume names and spec hashes). */
  instance: string;
  /** manifests root inside the repo, '' or '.' = repo root */
  path: string;
  /** The operator's --allow-host-path prefixes: Volumes may mount, and Routes read TLS files from, host paths only below these (absent = none). */
  allowHostPaths?: string[];
  /** The operator's --allow-docker-socket: a Volume may mount the Docker engine's socket (absent = refused). */
  allowDockerSocket?: boolean;
  /** Bytes of one manifest file (--max-file-size); default 1 MiB. */
  maxFileSize?: number;
  /** Bytes of all manifest files of the revision (--max-revision-size); default 16 MiB. */
  maxRevisionSize?: number;
  /** Wall-clock bound on validating in the worker thread; default 120 s. */
  timeoutMs?: number;
  /** 'worker' validates even a small revision in the worker thread (tests); default: revisions over 32 KiB only. */
  isolation?: 'auto' | 'worker';
  /** --compose-profiles: services of compose files with one of these profiles are started too. */
  composeProfiles?: string[];
  /** --compose-env FILE, read by the caller: the host's variables for compose interpolation, over each `.env` (never logged). */
  composeEnv?: Record<string, string>;
}

/**
 * Revisions up to this size are validated in-process: they take a few milliseconds (every stage is linear in the input
 * and this bounds the input), less than starting a worker thread.
 */
const IN_PROCESS_MAX_BYTES = 32 * 1024;

/**
 * Reads every *.yaml / *.yml under opts.path of the snapshot (hidden files and directories skipped), validates all,
 * returns the desired state. Throws ValidationError with the issues of the revision (the first 100, then one saying how
 * many more; E_TOO_LARGE when a limit is exceeded), or BerthError 'E_EMPTY_REVISION' (terminal) when there are zero
 * manifests; lets snapshot.list's 'E_PATH_MISSING' propagate. Sizes are checked before parsing; parsing and validating
 * run in a worker thread (bounded memory and time, the event loop stays free) unless the revision is small.
 */
export async function loadDesired(snapshot: RepoSnapshot, opts: LoadOptions): Promise<DesiredState> {
  const files = await readManifests(snapshot, normalizeRoot(opts.path), resolveLimits(opts), opts.composeEnv);
  const size = files.reduce((n, f) => n + f.bytes.length, 0);
  if (opts.isolation === 'worker' || size > IN_PROCESS_MAX_BYTES) return loadInWorker(snapshot, files, opts);
  return loadFiles(files.map((f) => ({ path: f.path, content: f.bytes.toString('utf8') })), snapshot, opts);
}

/** The stages after reading: parse, validate, check against the snapshot, build the desired state. */
export async function loadFiles(files: readonly YamlFile[], snapshot: RepoSnapshot, opts: LoadOptions, onFile?: (path: string) => void): Promise<DesiredState> {
  const root = normalizeRoot(opts.path);
  const { entries, issues, warnings: parseWarnings } = parseEntries(files, { limits: resolveLimits(opts), onFile, root, ...(opts.composeProfiles ? { composeProfiles: opts.composeProfiles } : {}), ...(opts.composeEnv ? { composeEnv: opts.composeEnv } : {}) });
  const manifestBytes = files.reduce((n, f) => n + Buffer.byteLength(f.content), 0);
  // Jobs and CronJob templates have a Service's build, files and secret items: checked and read as a Service's are.
  const workloads = [...entries, ...containerEntries(entries)];
  const [builds, scripts, secrets, repoFiles] = await Promise.all([checkBuilds(snapshot, root, workloads), checkScripts(snapshot, root, entries), checkSecretFiles(snapshot, root, entries), checkServiceFiles(snapshot, root, workloads, resolveLimits(opts), manifestBytes)]);
  const allowed = opts.allowHostPaths ?? [];
  const hostPaths = [...hostPathIssues(entries, allowed), ...dockerSocketIssues(entries, opts.allowDockerSocket === true), ...tlsFileIssues(entries, allowed)];
  const all = sortIssues([...issues, ...viewIssues(builds.issues), ...scripts, ...secrets.issues, ...viewIssues(repoFiles.issues), ...viewIssues(secretKeyIssues(workloads, secrets.secrets)), ...hostPaths]);
  if (all.length > 0) throw new ValidationError(capIssues(all), all.length);
  const manifests = entries.flatMap((e) => (e.manifest ? [withRepoScriptPaths(root, e.manifest)] : []));
  if (manifests.length === 0) {
    throw new BerthError('E_EMPTY_REVISION', `no manifests under ${root || 'the repository root'} at revision ${snapshot.revision}; refusing to treat it as "delete everything"`);
  }
  const desired = buildDesired(opts.instance, snapshot.revision, manifests, builds.builds, secrets.secrets, repoFiles.files);
  // compose: unset variables, services skipped for their profiles; then privileged replicas and the like
  const warnings = [...(parseWarnings ?? []), ...securityWarnings(entries)];
  return warnings.length > 0 ? { ...desired, warnings } : desired;
}

export { isManifestFile } from './read-manifests.ts';
