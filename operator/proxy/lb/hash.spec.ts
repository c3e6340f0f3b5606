import { describe, expect, it } from 'vitest';
import { murmur3, murmur3Bytes } from './hash.ts';

describe('murmur3 (x86, 32-bit)', () => {
  it('matches the reference test vectors, tails and UTF-8 included', () => {
    const vectors: [string, number, number][] = [
      ['', 0, 0],
      ['', 1, 0x514e28b7],
      ['', 0xffffffff, 0x81f16f39],
      ['\0\0\0\0', 0, 0x2362f9de],
      ['a', 0x9747b28c, 0x7fa09ea6],
      ['aa', 0x9747b28c, 0x5d211726],
      ['aaa', 0x9747b28c, 0x283e0130],
      ['aaaa', 0x9747b28c, 0x5a97808a],
      ['abc', 0, 0xb3dd93fa],
      ['hello', 0, 0x248bfa47],
      ['Hello, world!', 0x9747b28c, 0x24884cba],
      ['ππππππππ', 0x9747b28c, 0xd58063c1],
      ['a'.repeat(256), 0x9747b28c, 0x37405bdc],
      ['The quick brown fox jumps over the lazy dog', 0x9747b28c, 0x2fa826cd],
    ];
    for (const [input, seed, want] of vectors) expect(murmur3(input, seed)).toBe(want);
  });

  it('hashes non-ASCII text as its UTF-8 bytes wherever it appears', () => {
    for (const s of ['é', 'abcdé', 'éabcd', 'ab€cdefg', 'client-ip:2001:db8::1', '日本語のキー', '🙂🙂']) {
      expect(murmur3(s, 7)).toBe(murmur3Bytes(new TextEncoder().encode(s), 7));
    }
  });
});
