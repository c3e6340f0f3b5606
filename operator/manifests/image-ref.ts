/**
 * Image references as the Docker engine (20.10, vendored docker/distribution `reference`) parses them for a container
 * create: `[domain[:port]/]path-component[/path-component...][:tag][@algorithm:hex]`, an image ID (64 hex digits) or
 * `sha256:<64 hex>`. Written as a small parser, not one regular expression: JavaScript regexps backtrack, and the
 * grammar's `[-]*` separator makes the literal translation exponential on a long invalid name.
 */

/** Longest repository name, counted as the engine does: with its default domain and `library/` added. */
export const IMAGE_NAME_MAX = 255;
const DEFAULT_DOMAIN = 'docker.io';
const TAG_RE = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
const PATH_COMPONENT_RE = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const DOMAIN_COMPONENT_RE = /^(?:[A-Za-z0-9]|[A-Za-z0-9][A-Za-z0-9-]*[A-Za-z0-9])$/;
const IMAGE_ID_RE = /^[a-f0-9]{64}$/;
/** Digest algorithms the engine can verify, with the length of their lowercase hex encoding. */
const DIGEST_HEX: Record<string, number> = { sha256: 64, sha384: 96, sha512: 128 };

/**
 * Why the engine would refuse `ref` as the image of a container ("invalid reference format"), or undefined when it
 * parses. Says nothing about whether the image is present.
 */
export function imageRefProblem(ref: string): string | undefined {
  // An image ID, or a bare digest (`sha256:<hex>`); anything else (`sha256:abc` too) is read as a repository name.
  if (IMAGE_ID_RE.test(ref) || digestProblem(ref) === undefined) return undefined;
  if (ref.length > IMAGE_NAME_MAX + 1 + 128 + 1 + 7 + 128) return `is ${ref.length} characters long, far more than an image reference can be`;
  const at = ref.indexOf('@');
  const digest = at >= 0 ? ref.slice(at + 1) : undefined;
  const named = at >= 0 ? ref.slice(0, at) : ref;
  if (digest !== undefined) {
    const problem = digestProblem(digest);
    if (problem) return problem;
  }
  const slash = named.lastIndexOf('/');
  const colon = named.lastIndexOf(':');
  const tag = colon > slash ? named.slice(colon + 1) : undefined;
  const name = colon > slash ? named.slice(0, colon) : named;
  if (tag !== undefined && !TAG_RE.test(tag)) {
    return `tag ${JSON.stringify(tag)} is invalid: letters, digits, "_", "." and "-", not starting with "." or "-", at most 128 characters`;
  }
  return nameProblem(name);
}

/** The repository part: an optional domain (a first component with "." or ":", or `localhost`), then lowercase path components. */
function nameProblem(name: string): string | undefined {
  if (name === '') return 'must name a repository, e.g. shop/web:1.4';
  const parts = name.split('/');
  const first = parts[0] ?? '';
  const hasDomain = parts.length > 1 && (first.includes('.') || first.includes(':') || first === 'localhost');
  const domain = hasDomain ? first : undefined;
  const path = hasDomain ? parts.slice(1) : parts;
  // The engine's grammar then matches the whole name again: a "domain" such as my_reg.io that is no host name still
  // passes as a (lowercase) path component.
  if (domain !== undefined && !PATH_COMPONENT_RE.test(domain)) {
    const problem = domainProblem(domain);
    if (problem) return problem;
  }
  for (const component of path) {
    if (PATH_COMPONENT_RE.test(component)) continue;
    if (PATH_COMPONENT_RE.test(component.toLowerCase())) return 'repository name must be lowercase';
    return `repository path component ${JSON.stringify(component)} is invalid: lowercase letters and digits, separated by ".", "_", "__" or dashes`;
  }
  // The engine counts the name it normalises to: docker.io/library/web for `web`, docker.io/shop/web for `shop/web`.
  const full = domain !== undefined ? name : path.length === 1 ? `${DEFAULT_DOMAIN}/library/${name}` : `${DEFAULT_DOMAIN}/${name}`;
  if (full.length > IMAGE_NAME_MAX) return `repository name ${full.slice(0, 40)}... is ${full.length} characters long; the engine takes at most ${IMAGE_NAME_MAX}`;
  return undefined;
}

function domainProblem(domain: string): string | undefined {
  const colon = domain.indexOf(':');
  const host = colon >= 0 ? domain.slice(0, colon) : domain;
  const port = colon >= 0 ? domain.slice(colon + 1) : undefined;
  if (port !== undefined && !/^[0-9]+$/.test(port)) return `registry port ${JSON.stringify(port)} must be a number`;
  if (!host.split('.').every((c) => DOMAIN_COMPONENT_RE.test(c))) return `registry host ${JSON.stringify(host)} is not a host name`;
  return undefined;
}

function digestProblem(digest: string): string | undefined {
  const colon = digest.indexOf(':');
  const algorithm = colon >= 0 ? digest.slice(0, colon) : '';
  const hex = colon >= 0 ? digest.slice(colon + 1) : '';
  const length = DIGEST_HEX[algorithm];
  if (length === undefined) return `digest ${JSON.stringify(digest.slice(0, 80))} must be sha256:, sha384: or sha512: followed by lowercase hex`;
  if (hex.length !== length || !/^[a-f0-9]*$/.test(hex)) return `digest ${algorithm}:... must have exactly ${length} lowercase hex digits`;
  return undefined;
}
