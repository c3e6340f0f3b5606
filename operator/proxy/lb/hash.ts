/**
 * MurmurHash3, x86 32-bit variant (Austin Appleby, public domain). Chosen over FNV-1a because its final avalanche
 * (fmix32) spreads near-identical inputs such as `web-1#17` / `web-1#18` evenly over the ring, which FNV-1a does
 * poorly in the high bits; and over node:crypto (md5, as ketama uses) because it is ~10x cheaper per key and
 * allocation-free on the pick path. Strings are hashed as their UTF-8 bytes, so values match other murmur3
 * implementations (e.g. Python's mmh3, Guava's murmur3_32_fixed).
 */

const C1 = 0xcc9e2d51;
const C2 = 0x1b873593;

/** The 32-bit murmur3 hash of `input`'s UTF-8 bytes, as an unsigned integer. */
export function murmur3(input: string, seed = 0): number {
  const len = input.length;
  let h = seed >>> 0;
  const blocks = len & ~3;
  // Fast path: ASCII strings are their own UTF-8 bytes; read them in place, no encoding, no allocation.
  for (let i = 0; i < blocks; i += 4) {
    const a = input.charCodeAt(i);
    const b = input.charCodeAt(i + 1);
    const c = input.charCodeAt(i + 2);
    const d = input.charCodeAt(i + 3);
    if ((a | b | c | d) > 0x7f) return murmur3Bytes(new TextEncoder().encode(input), seed);
    h = mixH(h, a | (b << 8) | (c << 16) | (d << 24));
  }
  let k = 0;
  for (let t = len - 1; t >= blocks; t--) {
    const c = input.charCodeAt(t);
    if (c > 0x7f) return murmur3Bytes(new TextEncoder().encode(input), seed);
    k = (k << 8) | c;
  }
  return finish(h, k, len);
}

/** The same hash over raw bytes (the path for strings with non-ASCII characters). */
export function murmur3Bytes(bytes: Uint8Array, seed = 0): number {
  const len = bytes.length;
  let h = seed >>> 0;
  const blocks = len & ~3;
  for (let i = 0; i < blocks; i += 4) {
    h = mixH(h, bytes[i]! | (bytes[i + 1]! << 8) | (bytes[i + 2]! << 16) | (bytes[i + 3]! << 24));
  }
  let k = 0;
  for (let t = len - 1; t >= blocks; t--) k = (k << 8) | bytes[t]!;
  return finish(h, k, len);
}

/** One 4-byte block into the state. */
function mixH(h: number, k: number): number {
  h ^= mixK(k);
  h = (h << 13) | (h >>> 19);
  return (Math.imul(h, 5) + 0xe6546b64) | 0;
}

/** The 0-3 byte tail (already assembled little-endian in `k`), the length, and the final avalanche. */
function finish(h: number, k: number, len: number): number {
  if ((len & 3) !== 0) h ^= mixK(k);
  return fmix32(h ^ len);
}

function mixK(k: number): number {
  k = Math.imul(k, C1);
  k = (k << 15) | (k >>> 17);
  return Math.imul(k, C2);
}

/** Final avalanche: every input bit affects every output bit. */
function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
