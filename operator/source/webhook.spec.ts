import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { verifyGitHubSignature } from './webhook.ts';

const secret = "It's a Secret to Everybody";
const body = Buffer.from('Hello, World!');
// The example from GitHub's documentation "Validating webhook deliveries".
const documented = 'sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17';

describe('verifyGitHubSignature', () => {
  it('accepts the signature from GitHub’s documentation', () => {
    expect(verifyGitHubSignature(secret, body, documented)).toBe(true);
  });

  it('accepts an upper-case hex digest and surrounding whitespace', () => {
    expect(verifyGitHubSignature(secret, body, ` sha256=${documented.slice(7).toUpperCase()} `)).toBe(true);
  });

  it('accepts a signature computed over arbitrary bytes', () => {
    const raw = Buffer.from([0, 255, 10, 13, 128]);
    const sig = `sha256=${createHmac('sha256', 's').update(raw).digest('hex')}`;
    expect(verifyGitHubSignature('s', raw, sig)).toBe(true);
  });

  it('rejects a wrong secret, a changed body and a changed digest', () => {
    expect(verifyGitHubSignature('other', body, documented)).toBe(false);
    expect(verifyGitHubSignature(secret, Buffer.from('Hello, World?'), documented)).toBe(false);
    expect(verifyGitHubSignature(secret, body, `${documented.slice(0, -1)}f`)).toBe(false);
  });

  it('rejects missing and malformed headers', () => {
    const hex = documented.slice(7);
    for (const header of [undefined, '', 'sha256=', hex, `sha1=${hex}`, `sha256=${hex.slice(2)}`, `sha256=${hex}00`, `sha256=${hex.slice(0, -1)}g`, `sha256=${hex},sha256=${hex}`]) {
      expect(verifyGitHubSignature(secret, body, header)).toBe(false);
    }
  });
});
