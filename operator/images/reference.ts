/**
 * Image names split as the Docker engine normalises them (docker/distribution `reference.ParseNormalizedNamed`):
 * no domain means `docker.io`, a one-component path on docker.io means `library/<name>`, `index.docker.io` is
 * `docker.io`. A first path component is a domain when it holds "." or ":" or is `localhost`. Input is assumed
 * valid per imageRefProblem (operator/manifests/image-ref.ts); image IDs are refused (no registry serves them).
 */
import { BerthError } from '../model/errors.ts';

export const DEFAULT_DOMAIN = 'docker.io';
const LEGACY_DEFAULT_DOMAIN = 'index.docker.io';
/** Where docker.io's registry API really is. */
const DEFAULT_ENDPOINT = 'registry-1.docker.io';
const IMAGE_ID_RE = /^(?:sha256:)?[a-f0-9]{64}$/;

export interface ImageName {
  /** Registry domain (`docker.io`, `registry.example.com:5000`, `localhost`). */
  domain: string;
  /** Path inside the registry (`library/nginx`, `shop/api`). */
  repository: string;
  tag?: string;
  /** `sha256:<hex>` (or sha384/sha512) when the reference pins one. */
  digest?: string;
}

/** The parts of a reference as written, before normalisation. */
function split(ref: string): { name: string; tag?: string; digest?: string } {
  const at = ref.indexOf('@');
  const digest = at >= 0 ? ref.slice(at + 1) : undefined;
  const named = at >= 0 ? ref.slice(0, at) : ref;
  const slash = named.lastIndexOf('/');
  const colon = named.lastIndexOf(':');
  const hasTag = colon > slash;
  const name = hasTag ? named.slice(0, colon) : named;
  return { name, ...(hasTag ? { tag: named.slice(colon + 1) } : {}), ...(digest !== undefined ? { digest } : {}) };
}

/** True for what the engine reads as an image ID (64 hex digits, or `sha256:` and 64 hex digits), not a name. */
export function isImageId(ref: string): boolean {
  return IMAGE_ID_RE.test(ref);
}

/** Splits and normalises `ref` (`nginx:1` → docker.io, library/nginx, tag 1). Throws a terminal E_PULL for an image ID. */
export function parseImageName(ref: string): ImageName {
  if (isImageId(ref)) throw new BerthError('E_PULL', `${ref} is an image ID, not a name a registry can resolve`, { terminal: true });
  const { name, tag, digest } = split(ref);
  const slash = name.indexOf('/');
  const first = slash >= 0 ? name.slice(0, slash) : '';
  const hasDomain = slash >= 0 && (first.includes('.') || first.includes(':') || first === 'localhost');
  let domain = hasDomain ? first : DEFAULT_DOMAIN;
  let repository = hasDomain ? name.slice(slash + 1) : name;
  if (domain === LEGACY_DEFAULT_DOMAIN) domain = DEFAULT_DOMAIN;
  if (domain === DEFAULT_DOMAIN && !repository.includes('/')) repository = `library/${repository}`;
  return { domain, repository, ...(tag !== undefined ? { tag } : {}), ...(digest !== undefined ? { digest } : {}) };
}

/** The host (HOST[:PORT]) serving `domain`'s registry API: `registry-1.docker.io` for docker.io, else the domain. */
export function registryEndpoint(domain: string): string {
  return domain === DEFAULT_DOMAIN || domain === LEGACY_DEFAULT_DOMAIN ? DEFAULT_ENDPOINT : domain;
}

/** The fully qualified form: `docker.io/library/nginx:1`, `reg:5000/shop/api@sha256:...`, `domain/repo:tag@digest`. */
export function formatImageName(name: { domain: string; repository: string }, ref: { tag?: string; digest?: string } = {}): string {
  return `${name.domain}/${name.repository}${ref.tag !== undefined ? `:${ref.tag}` : ''}${ref.digest !== undefined ? `@${ref.digest}` : ''}`;
}

/** `ref` pinned to `digest`, the name kept as the user spelled it: `shop/api:1.4` + d → `shop/api@d` (tag and old digest dropped). */
export function withDigest(ref: string, digest: string): string {
  if (isImageId(ref)) throw new BerthError('E_PULL', `${ref} is an image ID, not a name to pin to a digest`, { terminal: true });
  return `${split(ref).name}@${digest}`;
}

/** `ref` without its tag and digest, as spelled (`localhost:5000/a/b:1@sha256:..` → `localhost:5000/a/b`). */
export function repositoryOf(ref: string): string {
  return split(ref).name;
}
