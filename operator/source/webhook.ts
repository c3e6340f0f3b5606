/** Webhook authentication: GitHub's X-Hub-Signature-256 header. */
import { createHmac, timingSafeEqual } from 'node:crypto';

const SIGNATURE = /^sha256=([0-9a-f]{64})$/i;

/**
 * True when `header` (`sha256=<hex>`) is the HMAC-SHA256 of `body` keyed with `secret`.
 * False on a missing or malformed header; the digests are compared in constant time.
 */
export function verifyGitHubSignature(secret: string, body: Buffer, header: string | undefined): boolean {
  const match = SIGNATURE.exec(header?.trim() ?? '');
  if (!match?.[1]) return false;
  const given = Buffer.from(match[1], 'hex');
  const expected = createHmac('sha256', secret).update(body).digest();
  return given.length === expected.length && timingSafeEqual(given, expected);
}
