/**
 * Webhook authentication for every forge berth is pointed at (pure): which forge sent a request, whether its headers
 * carry a well-formed credential of that forge (checked before any of the body is read), and whether the credential
 * authenticates the body. GitHub, Gitea / Forgejo and Bitbucket sign the body with HMAC-SHA256; GitLab sends the
 * secret itself as a token, which proves the sender knows it but does not bind the body.
 *
 * Every comparison is constant-time, header values beyond a sane length are treated as absent or malformed (a header
 * may be kilobytes long), and no message returned ever contains the secret or a credential header's value.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';

export type Forge = 'github' | 'gitlab' | 'gitea' | 'bitbucket';

/** The normalized event: what berth acts on (push, pull_request, ping); anything else is the forge's name, lower-cased. */
export type WebhookEvent = 'push' | 'pull_request' | 'ping' | (string & {});

export interface WebhookAccepted {
  ok: true;
  forge: Forge;
  event: WebhookEvent;
  /** The forge's delivery id, when it sent a sane one (it is not covered by the signature). */
  delivery?: string;
  /**
   * The verified HMAC as `sha256=<lower-case hex>`, whichever header carried it: the same body signed with the same
   * secret, so a replay key a replayer cannot change. Absent for GitLab, whose token is the same on every delivery.
   */
  signature?: string;
}

export interface WebhookRefusal {
  ok: false;
  /** Why, for logs: names headers, never their values nor the secret. */
  why: string;
  /** The forge the request claims to come from, when its headers say. */
  forge?: Forge;
  /** The header(s) a request of that forge must carry, for the answer to the sender. */
  expected: string;
}

export type HeaderCheck = { ok: true; forge: Forge } | WebhookRefusal;
export type WebhookVerdict = WebhookAccepted | WebhookRefusal;

/** The credential header of each forge, as the forge spells it. */
export const CREDENTIAL_HEADERS: Record<Forge, string> = {
  github: 'X-Hub-Signature-256',
  gitlab: 'X-Gitlab-Token',
  gitea: 'X-Gitea-Signature or X-Forgejo-Signature',
  bitbucket: 'X-Hub-Signature',
};

const ANY_CREDENTIAL = 'X-Hub-Signature-256, X-Gitlab-Token, X-Gitea-Signature, X-Forgejo-Signature or X-Hub-Signature';

/** Longest GitLab token looked at; longer is malformed (GitLab's own limit is far below). */
const MAX_TOKEN_LENGTH = 1024;
/** Longest event name or delivery id looked at; longer ones are ignored. */
const MAX_NAME_LENGTH = 128;

const PREFIXED_HEX = /^sha256=([0-9a-f]{64})$/i;
const BARE_HEX = /^([0-9a-f]{64})$/i;
/** Delivery ids are UUIDs or similar: printable, no spaces (they end up in log lines). */
const SANE_ID = /^[\x21-\x7e]+$/;

/**
 * Which forge sent `headers`, from headers only that forge sends. Gitea and Forgejo also send GitHub's event and
 * delivery headers (and GitHub's signature header in recent versions), so they are recognised first; GitHub also
 * sends X-Hub-Signature (SHA-1), so Bitbucket is known by its X-Event-Key, not by that header.
 */
export function identifyForge(headers: IncomingHttpHeaders): Forge | undefined {
  const has = (name: string): boolean => headers[name] !== undefined;
  if (has('x-gitea-event') || has('x-forgejo-event') || has('x-gitea-signature') || has('x-forgejo-signature')) return 'gitea';
  if (has('x-gitlab-event') || has('x-gitlab-token')) return 'gitlab';
  if (has('x-event-key')) return 'bitbucket';
  // a delivery with only the signature header is GitHub's (berth's first forge, and what its tests send)
  if (has('x-github-event') || has('x-hub-signature-256')) return 'github';
  return undefined;
}

/**
 * The checks that need no body: with `secret` set, a request must come from a known forge and carry that forge's
 * credential header, well-formed. A refusal here means the body need not (and should not) be read.
 */
export function checkWebhookHeaders(headers: IncomingHttpHeaders, secret: string | undefined): HeaderCheck {
  const forge = identifyForge(headers);
  if (!secret) return refuse('no webhook secret configured', forge);
  if (!forge) return refuse(`no credential header (${ANY_CREDENTIAL})`, undefined);
  const found = credentials(headers, forge);
  if (!found.ok) return found;
  return { ok: true, forge };
}

/**
 * Authenticates a delivery: its headers (as `checkWebhookHeaders`) and its raw `body` against `secret`; on success
 * the forge, the normalized event, the delivery id and the verified signature. An empty secret refuses everything.
 */
export function verifyWebhook(headers: IncomingHttpHeaders, body: Buffer, secret: string): WebhookVerdict {
  const forge = identifyForge(headers);
  if (!secret) return refuse('no webhook secret configured', forge);
  if (!forge) return refuse(`no credential header (${ANY_CREDENTIAL})`, undefined);
  const found = credentials(headers, forge);
  if (!found.ok) return found;
  let signature: string | undefined;
  if (found.kind === 'token') {
    if (!sameSecret(found.values[0]!, secret)) return refuse(`wrong ${CREDENTIAL_HEADERS.gitlab}`, forge);
  } else {
    const expected = hmac(secret, body);
    // Forgejo may send both of its signature headers: each one present must be right
    if (!found.values.every((hex) => sameDigest(hex, expected))) return refuse(`bad signature (${CREDENTIAL_HEADERS[forge]})`, forge);
    signature = `sha256=${expected.toString('hex')}`;
  }
  const delivery = deliveryId(headers, forge);
  return {
    ok: true, forge, event: normalizeEvent(headers, forge),
    ...(delivery ? { delivery } : {}), ...(signature ? { signature } : {}),
  };
}

/**
 * True when `header` (`sha256=<hex>`) is the HMAC-SHA256 of `body` keyed with `secret`.
 * False on a missing or malformed header; the digests are compared in constant time.
 */
export function verifyGitHubSignature(secret: string, body: Buffer, header: string | undefined): boolean {
  const match = PREFIXED_HEX.exec(header?.trim() ?? '');
  return match?.[1] !== undefined && sameDigest(match[1], hmac(secret, body));
}

type Credentials = { ok: true; kind: 'hmac' | 'token'; values: string[] } | WebhookRefusal;

/** The credential header(s) of `forge`, present and well-formed: hex digests for HMAC forges, the token for GitLab. */
function credentials(headers: IncomingHttpHeaders, forge: Forge): Credentials {
  if (forge === 'gitlab') {
    const token = single(headers['x-gitlab-token']);
    if (token === undefined || token === '') return refuse(`missing ${CREDENTIAL_HEADERS.gitlab}`, forge);
    if (token === null) return refuse(`malformed ${CREDENTIAL_HEADERS.gitlab} (repeated)`, forge);
    if (token.length > MAX_TOKEN_LENGTH) return refuse(`oversized ${CREDENTIAL_HEADERS.gitlab}`, forge);
    return { ok: true, kind: 'token', values: [token] };
  }
  const spec: Array<[name: string, format: RegExp]> =
    forge === 'github' ? [['x-hub-signature-256', PREFIXED_HEX]]
      : forge === 'bitbucket' ? [['x-hub-signature', PREFIXED_HEX]]
        : [['x-gitea-signature', BARE_HEX], ['x-forgejo-signature', BARE_HEX]];
  const values: string[] = [];
  for (const [name, format] of spec) {
    const raw = single(headers[name]);
    if (raw === undefined) continue;
    // the longest well-formed value is 71 characters: anything far longer is not looked at
    const hex = raw === null || raw.length > MAX_NAME_LENGTH ? undefined : format.exec(raw.trim())?.[1];
    if (hex === undefined) return refuse(`malformed ${CREDENTIAL_HEADERS[forge]}`, forge);
    values.push(hex);
  }
  if (values.length === 0) return refuse(`missing ${CREDENTIAL_HEADERS[forge]}`, forge);
  return { ok: true, kind: 'hmac', values };
}

/** The event in berth's terms: pushes (branch or tag) are `push`, pull / merge requests are `pull_request`. */
function normalizeEvent(headers: IncomingHttpHeaders, forge: Forge): WebhookEvent {
  const names: Record<Forge, string[]> = {
    github: ['x-github-event'], gitlab: ['x-gitlab-event'], gitea: ['x-forgejo-event', 'x-gitea-event'], bitbucket: ['x-event-key'],
  };
  const raw = firstSane(headers, names[forge], /^[\x20-\x7e]+$/)?.toLowerCase();
  // an authenticated delivery that does not say what it is: a fetch is always a safe answer
  if (!raw) return 'push';
  switch (forge) {
    case 'github':
      return raw;
    case 'gitlab':
      if (raw === 'push hook' || raw === 'tag push hook') return 'push';
      if (raw === 'merge request hook') return 'pull_request';
      return raw;
    case 'gitea':
      // Gitea names the synchronize action of a pull request as an event of its own
      return raw === 'pull_request_sync' ? 'pull_request' : raw;
    case 'bitbucket':
      if (raw === 'repo:push' || raw === 'repo:refs_changed') return 'push';
      if (raw.startsWith('pullrequest:') || raw.startsWith('pr:')) return 'pull_request';
      if (raw === 'diagnostics:ping') return 'ping';
      return raw;
  }
}

/**
 * The delivery id of `forge`. Bitbucket Cloud's X-Hook-UUID names the webhook, not the delivery (it is the same on
 * every request of that webhook), so it is never taken as one.
 */
function deliveryId(headers: IncomingHttpHeaders, forge: Forge): string | undefined {
  const names: Record<Forge, string[]> = {
    github: ['x-github-delivery'],
    gitlab: ['x-gitlab-event-uuid', 'x-gitlab-webhook-uuid'],
    gitea: ['x-forgejo-delivery', 'x-gitea-delivery'],
    bitbucket: ['x-request-uuid', 'x-request-id'],
  };
  return firstSane(headers, names[forge], SANE_ID);
}

/** The first of `names` whose value is present, at most MAX_NAME_LENGTH long and matches `charset`, trimmed. */
function firstSane(headers: IncomingHttpHeaders, names: string[], charset: RegExp): string | undefined {
  for (const name of names) {
    const v = single(headers[name])?.trim();
    if (v && v.length <= MAX_NAME_LENGTH && charset.test(v)) return v;
  }
  return undefined;
}

/** A header's one value; null when it was sent more than once (node joins most repeats with ', ', not all). */
function single(v: string | string[] | undefined): string | undefined | null {
  if (Array.isArray(v)) return v.length === 1 ? v[0] : null;
  return v;
}

function hmac(secret: string, body: Buffer): Buffer {
  return createHmac('sha256', secret).update(body).digest();
}

/** `hex` (64 hex digits, already checked) equals `expected`, in constant time. */
function sameDigest(hex: string, expected: Buffer): boolean {
  const given = Buffer.from(hex, 'hex');
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/** Keys the token comparison: both sides are hashed with it, so they compare in constant time whatever their lengths. */
const COMPARE_KEY = randomBytes(32);

function sameSecret(token: string, secret: string): boolean {
  const a = createHmac('sha256', COMPARE_KEY).update(token).digest();
  const b = createHmac('sha256', COMPARE_KEY).update(secret).digest();
  return timingSafeEqual(a, b);
}

function refuse(why: string, forge: Forge | undefined): WebhookRefusal {
  return { ok: false, why, ...(forge ? { forge } : {}), expected: forge ? CREDENTIAL_HEADERS[forge] : ANY_CREDENTIAL };
}
