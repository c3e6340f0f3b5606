/**
 * Errors of the secrets decryption edge (age files, SOPS documents).
 *
 * A SecretError's message never holds plaintext, key material, or a data key: it names the file or source given by the
 * caller, the path of keys to a value (keys are cleartext in SOPS documents), and what went wrong. The integrator maps
 * it onto the manifest error at file:line. No `cause` is attached, so nothing from a lower layer can leak through it.
 */

export type SecretErrorReason =
  | 'no-key'          // no identity loaded, or none of them opens the file / the SOPS data key
  | 'not-encrypted'   // the input is not an age file / not a SOPS document
  | 'mac-mismatch'    // integrity failure: a tampered value, a tampered or missing MAC, a changed lastmodified
  | 'malformed'       // unparsable input, bad metadata, a value the file's rules say is encrypted but is not, ...
  | 'too-large'       // over a size, node-count or nesting limit
  | 'unsupported';    // valid SOPS, but a feature berth refuses (Shamir key groups, comment regexes, multi-document YAML, ...)

export class SecretError extends Error {
  readonly reason: SecretErrorReason;
  /** Dotted path of the value concerned inside a SOPS document, when there is one (keys only, never values). */
  readonly path: string | undefined;
  constructor(reason: SecretErrorReason, message: string, opts: { path?: string } = {}) {
    super(message);
    this.name = 'SecretError';
    this.reason = reason;
    this.path = opts.path;
  }
}

export function isSecretError(e: unknown): e is SecretError {
  return e instanceof SecretError;
}
