/** Maps dockerode / docker-modem failures to BerthError. Decisions use HTTP status codes and errno codes, never message text. */
import { BerthError } from '../model/errors.ts';

interface EngineFailure {
  statusCode?: unknown;
  json?: unknown;
  code?: unknown;
  message?: unknown;
}

const CONNECTION_CODES = new Set([
  'ECONNREFUSED', 'ENOENT', 'EACCES', 'EPERM', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EPIPE',
  'ENOTFOUND', 'EAI_AGAIN', 'ENOTSOCK', 'EPROTO', 'ERR_SSL_WRONG_VERSION_NUMBER', 'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'CERT_HAS_EXPIRED', 'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/**
 * Podman answers 500 where Docker answers 404 or 409, and names the error class in the body's `cause` (libpod's
 * error values, one per class, e.g. `container state improper`): the status Docker gives that class.
 */
const PODMAN_CAUSE_STATUS: Record<string, number> = {
  'no such container': 404,
  'no such image': 404,
  'no such volume': 404,
  'network not found': 404,
  'no such exec session': 404,
  'container state improper': 409,
  'container already exists': 409,
  'that name is already in use': 409,
  'network already exists': 409,
  'network is being used': 409,
  'volume already exists': 409,
  'volume is being used': 409,
};

/** The HTTP status of an engine answer carried by a dockerode error, if any (Podman's 500s as Docker's status). */
export function statusOf(err: unknown): number | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const { statusCode: status, json } = err as EngineFailure;
  if (typeof status !== 'number') return undefined;
  if (status !== 500 || typeof json !== 'object' || json === null) return status;
  const cause = (json as { cause?: unknown }).cause;
  return (typeof cause === 'string' && PODMAN_CAUSE_STATUS[cause]) || status;
}

/** The engine's own message (JSON body `message`) or the error's message, on one line. */
export function engineMessage(err: unknown): string {
  if (typeof err !== 'object' || err === null) return oneLine(String(err));
  const failure = err as EngineFailure;
  const json = failure.json;
  if (typeof json === 'object' && json !== null && typeof (json as { message?: unknown }).message === 'string') {
    return oneLine((json as { message: string }).message);
  }
  if (typeof json === 'string' && json.trim() !== '') return oneLine(json);
  if (Buffer.isBuffer(json) && json.length > 0) return oneLine(json.toString('utf8'));
  const message = typeof failure.message === 'string' ? failure.message : String(err);
  // docker-modem prefixes `(HTTP code 400) unexpected - ` when the body was a stream; the status is reported separately.
  return oneLine(message.replace(/^\(HTTP code \d+\) [^-]*- /, ''));
}

/** True when the error is a failure to reach the engine at all (socket missing, refused, TLS, DNS...). */
export function isConnectionFailure(err: unknown): boolean {
  if (statusOf(err) !== undefined || typeof err !== 'object' || err === null) return false;
  const code = (err as EngineFailure).code;
  return typeof code === 'string' && CONNECTION_CODES.has(code);
}

/** Wraps any failure of `what` (e.g. `start container abc`) against `endpoint` into a transient BerthError E_DOCKER. */
export function dockerError(err: unknown, what: string, endpoint: string): BerthError {
  if (err instanceof BerthError) return err;
  if (isConnectionFailure(err)) {
    const code = String((err as EngineFailure).code);
    return new BerthError('E_DOCKER', `docker engine at ${endpoint} is unreachable (${code}) during ${what}: ${engineMessage(err)}`, { cause: err });
  }
  const status = statusOf(err);
  const prefix = status === undefined ? `${what} on ${endpoint} failed` : `${what} on ${endpoint} failed (HTTP ${status})`;
  return new BerthError('E_DOCKER', `${prefix}: ${engineMessage(err)}`, { cause: err });
}

/** Docker cannot lift a memory or CPU limit in place (0 means "unchanged" to `docker update`); the container must be replaced. */
export function liftedLimitError(id: string, current: { memory: number; nanoCpus: number }, update: { memory?: number; nanoCpus?: number }): BerthError | undefined {
  const lifted: string[] = [];
  if (update.memory === undefined && current.memory > 0) lifted.push('memory');
  if (update.nanoCpus === undefined && current.nanoCpus > 0) lifted.push('cpu');
  if (lifted.length === 0) return undefined;
  return new BerthError('E_DOCKER', `container ${id}: Docker cannot remove a ${lifted.join(' and ')} limit in place; replace the container instead`, { terminal: true });
}

function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, ' ').trim();
}
