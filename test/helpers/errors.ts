/** The BerthError `fn` throws (anything else thrown, or nothing, fails the test). */
import { BerthError } from '../../operator/model/errors.ts';

export function thrownBerthError(fn: () => unknown): BerthError {
  try {
    fn();
  } catch (err) {
    if (err instanceof BerthError) return err;
    throw err;
  }
  throw new Error('expected a BerthError');
}
