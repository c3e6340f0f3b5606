/**
 * Pinning (pure): the desired state with each registry tag replaced by the digest it resolved to this pass. The
 * replicas then run `name@digest`, so every replica on every node runs the same bytes even when the tag moves
 * mid-rollout, and a tag re-pushed in the registry is a spec change (the spec hash covers the digest) that rolls out
 * with its reason like any other. A service whose tag was not resolved keeps the hash it had before pinning existed.
 */
import { createHash } from 'node:crypto';
import type { DesiredState } from '../model/state.ts';

/** `digests`: image reference as written -> manifest digest. */
export function pinImages(desired: DesiredState, digests: ReadonlyMap<string, string>): DesiredState {
  if (!digests.size) return desired;
  let changed = false;
  const services = desired.services.map((s) => {
    if (s.image.type !== 'ref' || s.image.ref.includes('@')) return s;
    const digest = digests.get(s.image.ref);
    if (!digest) return s;
    changed = true;
    return { ...s, image: { ...s.image, digest }, specHash: pinnedHash(s.specHash, digest) };
  });
  return changed ? { ...desired, services } : desired;
}

/** The spec hash of a pinned service: the unpinned one and the digest, hashed again (16 hex, as spec-hash.ts). */
export function pinnedHash(specHash: string, digest: string): string {
  return createHash('sha256').update(`${specHash}\0${digest}`).digest('hex').slice(0, 16);
}
