/** For the secrets specs: awaits a promise that must reject with a SecretError, keeping its message for leak checks. */
import { expect } from 'vitest';
import { SecretError } from '../../operator/secrets/errors.ts';

/** A catcher that records every SecretError message it sees in `messages` (the specs check none holds a plaintext). */
export function secretErrorCatcher(messages: string[]): (p: Promise<unknown>) => Promise<SecretError> {
  return async (p) => {
    try {
      await p;
    } catch (e) {
      expect(e).toBeInstanceOf(SecretError);
      messages.push((e as Error).message);
      return e as SecretError;
    }
    throw new Error('expected a SecretError');
  };
}
