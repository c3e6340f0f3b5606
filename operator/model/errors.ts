/** Typed errors with stable codes. Terminal errors stall until a new revision; transient ones retry with backoff. */

export type ErrorCode =
  | 'E_YAML'            // a file is not valid YAML
  | 'E_SCHEMA'          // a document violates its kind's JSON Schema
  | 'E_SEMANTIC'        // valid per schema but inconsistent (duplicate names, missing volume, ...)
  | 'E_UNKNOWN_KIND'    // kind / apiVersion not known
  | 'E_TOO_LARGE'       // a revision exceeds a loader limit (file or revision size, nesting, nodes, scalar length, time)
  | 'E_EMPTY_REVISION'  // the revision holds no manifests: refuse to prune everything
  | 'E_PATH_MISSING'    // --path does not exist at the revision
  | 'E_BUILD'           // an image build from the repository failed
  | 'E_IMAGE_MISSING'   // an image is not present on the engine (a create found none; registry images are pulled first)
  | 'E_GIT'             // repository unreachable, ref missing, push rejected
  | 'E_DOCKER'          // engine unreachable or an API call failed
  | 'E_CONFIG'          // bad flag or setting
  | 'E_REGISTRY'        // a registry API request refused (bad registration, unknown service, a limit)
  | 'E_PULL'            // an image registry refused or failed: resolving a tag, pulling, listing tags (ErrImagePull)
  | 'E_GITHUB'          // the GitHub API failed (rate limit beyond the wait cap, 5xx after retries, bad credentials)
  | 'E_ROLLOUT'         // a new replica failed its health gate during an update
  | 'E_SECRET'          // a Secret could not be decrypted for a replica (no key, MAC mismatch, ...): that create fails
  | 'E_DEPENDENCY'      // a dependency with condition healthy is not ready: the dependent's starts wait for a later pass
  | 'E_INTERNAL';       // a defect in berth itself (logged with its stack); never mistaken for an outage

/** Where in the repository a problem is. */
export interface SourceLocation {
  file: string;
  line: number;
  col: number;
}

/** One problem found in a revision's manifests. */
export interface ManifestIssue extends SourceLocation {
  code: 'E_YAML' | 'E_SCHEMA' | 'E_SEMANTIC' | 'E_UNKNOWN_KIND' | 'E_TOO_LARGE';
  /** Dotted path of the field, e.g. `spec.replicas`; empty for file-level problems. */
  field: string;
  message: string;
}

/** Something of a valid revision worth a reviewer's attention (a privileged Service): printed, never rejecting it. */
export interface ManifestWarning extends SourceLocation {
  /** Dotted path of the field, e.g. `spec.securityContext.privileged`. */
  field: string;
  message: string;
}

export class BerthError extends Error {
  readonly code: ErrorCode;
  readonly terminal: boolean;
  constructor(code: ErrorCode, message: string, opts: { terminal?: boolean; cause?: unknown } = {}) {
    super(message, { cause: opts.cause });
    this.name = 'BerthError';
    this.code = code;
    this.terminal = opts.terminal ?? isTerminalCode(code);
  }
}

/** A whole revision rejected because of one or more manifest issues. */
export class ValidationError extends BerthError {
  readonly issues: ManifestIssue[];
  /** Every issue found; more than issues.length when the report was capped (its last issue then says how many more). */
  readonly total: number;
  constructor(issues: ManifestIssue[], total = issues.length) {
    super(issues[0]?.code ?? 'E_SCHEMA', `${total} error(s) in manifests:\n${issues.map(formatIssue).join('\n')}`, { terminal: true });
    this.name = 'ValidationError';
    this.issues = issues;
    this.total = total;
  }
}

export function formatIssue(i: ManifestIssue): string {
  return `${i.file}:${i.line}:${i.col}: ${i.field ? `${i.field}: ` : ''}${i.message}`;
}

/** `file:line: warning: message (field)`: apart from errors at a glance, and no `file:line:col:` an error parser would take. */
export function formatWarning(w: ManifestWarning): string {
  return `${w.file}:${w.line}: warning: ${w.message} (${w.field})`;
}

function isTerminalCode(code: ErrorCode): boolean {
  return code !== 'E_GIT' && code !== 'E_DOCKER' && code !== 'E_ROLLOUT' && code !== 'E_GITHUB' && code !== 'E_PULL' && code !== 'E_SECRET' && code !== 'E_DEPENDENCY';
}

/**
 * Normalises anything thrown into a BerthError. Without a fallback, a system call failure (a socket, a file: an
 * error with `syscall`) counts as a transient engine/IO failure, and anything else (a TypeError inside diff) as
 * E_INTERNAL: a defect, reported as such (terminal, so it stalls visibly instead of being retried as an outage).
 */
export function asBerthError(err: unknown, fallback?: ErrorCode): BerthError {
  if (err instanceof BerthError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new BerthError(fallback ?? (isSystemError(err) ? 'E_DOCKER' : 'E_INTERNAL'), message, { cause: err });
}

function isSystemError(err: unknown): boolean {
  return typeof err === 'object' && err !== null && typeof (err as { syscall?: unknown }).syscall === 'string';
}
