import { createHmac } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { describe, expect, it } from 'vitest';
import { checkWebhookHeaders, CREDENTIAL_HEADERS, identifyForge, verifyGitHubSignature, verifyWebhook, type Forge } from './webhook.ts';

const secret = "It's a Secret to Everybody";
const body = Buffer.from('Hello, World!');
// The example from GitHub's documentation "Validating webhook deliveries":
// https://docs.github.com/en/webhooks/using-webhooks/validating-webhook-deliveries
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

// --- verifyWebhook: every forge ----------------------------------------------------------------------------------

const h = (headers: Record<string, string>): IncomingHttpHeaders =>
  Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
const hex = (key: string, data: string | Buffer) => createHmac('sha256', key).update(data).digest('hex');

// GitHub, "Validating webhook deliveries": secret, payload and signature as documented; the delivery id is the one of
// the example delivery in "Webhook events and payloads".
// https://docs.github.com/en/webhooks/using-webhooks/validating-webhook-deliveries
const github = {
  secret, body,
  headers: h({ 'X-GitHub-Event': 'push', 'X-GitHub-Delivery': '72d3162e-cc78-11e3-81ab-4c9367dc0958', 'X-Hub-Signature-256': documented }),
};

// Gitea documents the headers of a delivery and a sample push payload, but no signature. The delivery id, the event,
// the ref/before/after of the payload and the key (the deprecated `secret` field of that payload) are the documented
// ones; the digest was computed once with
//   printf '%s' "$body" | openssl dgst -sha256 -hmac '3gEsCfjlV2ugRwgpU#w1*WaW*wa4NXgGmpCfkbG3'
// https://docs.gitea.com/features/webhooks ("Event information")
const gitea = {
  secret: '3gEsCfjlV2ugRwgpU#w1*WaW*wa4NXgGmpCfkbG3',
  body: Buffer.from('{"ref":"refs/heads/develop","before":"28e1879d029cb852e4844d9c718537df08844e03","after":"bffeb74224043ba2feb48d137756c8a9331c449a"}'),
  digest: 'c60568f2d5802ec2b0da7f5534cbd02b65e54786270e5cf5b1cfd92716d0ce23',
  headers: {
    'X-GitHub-Delivery': 'f6266f16-1bf3-46a5-9ea4-602e06ead473', 'X-GitHub-Event': 'push',
    'X-Gogs-Delivery': 'f6266f16-1bf3-46a5-9ea4-602e06ead473', 'X-Gogs-Event': 'push',
    'X-Gitea-Delivery': 'f6266f16-1bf3-46a5-9ea4-602e06ead473', 'X-Gitea-Event': 'push',
  } as Record<string, string>,
};

// Bitbucket Cloud documents the headers (X-Event-Key, X-Hook-UUID, X-Request-UUID, X-Attempt-Number) and that a
// webhook with a secret sends `X-Hub-Signature: sha256=<HMAC-SHA256 of the body>`, but no test vector. The payload is
// the top-level shape of the documented repo:push payload, trimmed; the digest was computed once with
//   printf '%s' "$body" | openssl dgst -sha256 -hmac 'bitbucket-webhook-secret'
// https://support.atlassian.com/bitbucket-cloud/docs/event-payloads/
// https://support.atlassian.com/bitbucket-cloud/docs/manage-webhooks/
const bitbucket = {
  secret: 'bitbucket-webhook-secret',
  body: Buffer.from('{"push":{"changes":[{"new":{"type":"branch","name":"main"}}]},"repository":{"type":"repository","full_name":"team_name/repo_name"}}'),
  digest: '759c3145f29e3a7058c167c174e0eebb9aaa104a312680f88091786c6f3b58bc',
  headers: {
    'X-Event-Key': 'repo:push', 'X-Hook-UUID': '{a6a1b7d2-0c3e-4f7b-9a55-1f1f0a0e7c11}',
    'X-Request-UUID': 'b4f0e1a2-6d3c-4c8e-9f21-7a9d2c5e8b10', 'X-Attempt-Number': '1',
  } as Record<string, string>,
};

// GitLab sends the secret token as is in X-Gitlab-Token; events as "Push Hook", "Merge Request Hook", ...
// https://docs.gitlab.com/user/project/integrations/webhooks/ ("Delivery headers", "Secret token")
const gitlab = {
  secret: 'glwt-berth-0c9d7e',
  body: Buffer.from('{"object_kind":"push","ref":"refs/heads/main"}'),
  headers: { 'X-Gitlab-Event': 'Push Hook', 'X-Gitlab-Token': 'glwt-berth-0c9d7e', 'X-Gitlab-Event-UUID': '13792a34-cac6-4fda-95a8-c58e00a3954e' } as Record<string, string>,
};

describe('identifyForge', () => {
  it('knows each forge by its own headers, Gitea and Forgejo before the GitHub headers they also send', () => {
    expect(identifyForge(github.headers)).toBe('github');
    expect(identifyForge(h({ 'X-Hub-Signature-256': documented }))).toBe('github');
    expect(identifyForge(h(gitea.headers))).toBe('gitea');
    expect(identifyForge(h({ 'X-Forgejo-Event': 'push', 'X-GitHub-Event': 'push' }))).toBe('gitea');
    expect(identifyForge(h(gitlab.headers))).toBe('gitlab');
    expect(identifyForge(h({ 'X-Gitlab-Token': 't' }))).toBe('gitlab');
    expect(identifyForge(h(bitbucket.headers))).toBe('bitbucket');
    // GitHub's SHA-1 X-Hub-Signature alone does not make a request Bitbucket's
    expect(identifyForge(h({ 'X-Hub-Signature': 'sha1=00' }))).toBeUndefined();
    expect(identifyForge(h({ 'Content-Type': 'application/json' }))).toBeUndefined();
  });
});

describe('verifyWebhook: documented deliveries', () => {
  it('GitHub: the documented signature', () => {
    expect(verifyWebhook(github.headers, github.body, github.secret)).toEqual({
      ok: true, forge: 'github', event: 'push', delivery: '72d3162e-cc78-11e3-81ab-4c9367dc0958', signature: documented,
    });
  });

  it('Gitea: the documented delivery, signed in X-Gitea-Signature (bare hex)', () => {
    const headers = h({ ...gitea.headers, 'X-Gitea-Signature': gitea.digest });
    expect(verifyWebhook(headers, gitea.body, gitea.secret)).toEqual({
      ok: true, forge: 'gitea', event: 'push', delivery: 'f6266f16-1bf3-46a5-9ea4-602e06ead473', signature: `sha256=${gitea.digest}`,
    });
  });

  it('Forgejo: X-Forgejo-* headers, alone or next to the Gitea ones', () => {
    const forgejo = h({ 'X-Forgejo-Event': 'push', 'X-Forgejo-Delivery': 'fj-1', 'X-Forgejo-Signature': gitea.digest });
    expect(verifyWebhook(forgejo, gitea.body, gitea.secret)).toMatchObject({ ok: true, forge: 'gitea', event: 'push', delivery: 'fj-1' });
    const both = h({ ...gitea.headers, 'X-Forgejo-Event': 'push', 'X-Gitea-Signature': gitea.digest, 'X-Forgejo-Signature': gitea.digest });
    expect(verifyWebhook(both, gitea.body, gitea.secret)).toMatchObject({ ok: true, forge: 'gitea' });
    // each signature header present must be right
    const oneWrong = h({ ...gitea.headers, 'X-Gitea-Signature': gitea.digest, 'X-Forgejo-Signature': hex('other', gitea.body) });
    expect(verifyWebhook(oneWrong, gitea.body, gitea.secret).ok).toBe(false);
  });

  it('Bitbucket Cloud: X-Hub-Signature sha256=, the request (not the hook) UUID as delivery', () => {
    const headers = h({ ...bitbucket.headers, 'X-Hub-Signature': `sha256=${bitbucket.digest}` });
    expect(verifyWebhook(headers, bitbucket.body, bitbucket.secret)).toEqual({
      ok: true, forge: 'bitbucket', event: 'push', delivery: 'b4f0e1a2-6d3c-4c8e-9f21-7a9d2c5e8b10', signature: `sha256=${bitbucket.digest}`,
    });
    // X-Hook-UUID names the webhook and is the same on every delivery: never a delivery id
    const noRequestId = h({ 'X-Event-Key': 'repo:push', 'X-Hook-UUID': '{hook}', 'X-Hub-Signature': `sha256=${bitbucket.digest}` });
    expect(verifyWebhook(noRequestId, bitbucket.body, bitbucket.secret)).not.toHaveProperty('delivery');
  });

  it('Bitbucket Data Center: repo:refs_changed and X-Request-Id', () => {
    const headers = h({ 'X-Event-Key': 'repo:refs_changed', 'X-Request-Id': 'dc-1', 'X-Hub-Signature': `sha256=${bitbucket.digest}` });
    expect(verifyWebhook(headers, bitbucket.body, bitbucket.secret)).toMatchObject({ ok: true, forge: 'bitbucket', event: 'push', delivery: 'dc-1' });
    // the example header in the Data Center docs is a placeholder (62 hex digits), not a digest: malformed
    // https://confluence.atlassian.com/bitbucketserver/event-payload-938025882.html ("HTTP headers")
    const placeholder = h({ 'X-Event-Key': 'repo:refs_changed', 'X-Hub-Signature': 'sha256=c3383246d4fd871e66e962b50cc12222222222222222222222222222222222' });
    expect(checkWebhookHeaders(placeholder, bitbucket.secret)).toMatchObject({ ok: false, forge: 'bitbucket', why: 'malformed X-Hub-Signature' });
  });

  it('GitLab: the token equals the secret; no signature (the token is the same on every delivery)', () => {
    const v = verifyWebhook(h(gitlab.headers), gitlab.body, gitlab.secret);
    expect(v).toEqual({ ok: true, forge: 'gitlab', event: 'push', delivery: '13792a34-cac6-4fda-95a8-c58e00a3954e' });
    const older = h({ 'X-Gitlab-Event': 'Push Hook', 'X-Gitlab-Token': gitlab.secret, 'X-Gitlab-Webhook-UUID': 'wh-1' });
    expect(verifyWebhook(older, gitlab.body, gitlab.secret)).toMatchObject({ ok: true, delivery: 'wh-1' });
  });
});

describe('verifyWebhook: refusals', () => {
  const signed: Array<[string, Record<string, string>, Buffer, string]> = [
    ['github', { 'X-GitHub-Event': 'push', 'X-Hub-Signature-256': documented }, body, secret],
    ['gitea', { ...gitea.headers, 'X-Gitea-Signature': gitea.digest }, gitea.body, gitea.secret],
    ['bitbucket', { ...bitbucket.headers, 'X-Hub-Signature': `sha256=${bitbucket.digest}` }, bitbucket.body, bitbucket.secret],
    ['gitlab', gitlab.headers, gitlab.body, gitlab.secret],
  ];

  it.each(signed)('%s: a wrong secret is refused, naming the forge header and nothing of the secret', (forge, headers, payload, key) => {
    const v = verifyWebhook(h(headers), payload, 'not-the-secret');
    expect(v).toMatchObject({ ok: false, forge });
    const text = JSON.stringify(v);
    expect(text).not.toContain(key);
    expect(text).not.toContain('not-the-secret');
    expect(text).toContain(CREDENTIAL_HEADERS[forge as Forge].split(' ')[0]);
  });

  it.each(signed.filter(([f]) => f !== 'gitlab'))('%s: a changed body is refused', (_forge, headers, payload, key) => {
    expect(verifyWebhook(h(headers), Buffer.concat([payload, Buffer.from(' ')]), key).ok).toBe(false);
  });

  it('GitLab: a token that differs in length or in one character is refused', () => {
    for (const token of [gitlab.secret.slice(0, -1), `${gitlab.secret}x`, gitlab.secret.toUpperCase(), `${gitlab.secret.slice(0, -1)}f`]) {
      const v = verifyWebhook(h({ ...gitlab.headers, 'X-Gitlab-Token': token }), gitlab.body, gitlab.secret);
      expect(v).toEqual({ ok: false, forge: 'gitlab', why: 'wrong X-Gitlab-Token', expected: 'X-Gitlab-Token' });
    }
  });

  it('a missing credential header is refused before the body (checkWebhookHeaders) and after', () => {
    const cases: Array<[Record<string, string>, Forge | undefined, string]> = [
      [{ 'X-GitHub-Event': 'push' }, 'github', 'missing X-Hub-Signature-256'],
      [{ 'X-Gitea-Event': 'push', 'X-Hub-Signature-256': documented }, 'gitea', 'missing X-Gitea-Signature or X-Forgejo-Signature'],
      [{ 'X-Event-Key': 'repo:push' }, 'bitbucket', 'missing X-Hub-Signature'],
      [{ 'X-Gitlab-Event': 'Push Hook' }, 'gitlab', 'missing X-Gitlab-Token'],
      [{ 'X-Gitlab-Event': 'Push Hook', 'X-Gitlab-Token': '' }, 'gitlab', 'missing X-Gitlab-Token'],
    ];
    for (const [headers, forge, why] of cases) {
      expect(checkWebhookHeaders(h(headers), 's')).toMatchObject({ ok: false, forge, why });
      expect(verifyWebhook(h(headers), body, 's')).toMatchObject({ ok: false, forge, why });
    }
    const unknown = checkWebhookHeaders(h({ 'X-GitHub-Delivery': 'x' }), 's');
    expect(unknown).toMatchObject({ ok: false, why: expect.stringMatching(/^no credential header/) });
    expect(unknown).not.toHaveProperty('forge');
  });

  it('malformed credential headers are refused on the headers', () => {
    const digest = documented.slice(7);
    const cases: Array<Record<string, string>> = [
      { 'X-Hub-Signature-256': 'sha256=00' },
      { 'X-Hub-Signature-256': digest },
      { 'X-Hub-Signature-256': `sha1=${digest.slice(0, 40)}` },
      { 'X-Hub-Signature-256': `sha256=${digest}, sha256=${digest}` },
      { 'X-Hub-Signature-256': `sha256=${digest.slice(0, -1)}g` },
      { 'X-Gitea-Event': 'push', 'X-Gitea-Signature': `sha256=${gitea.digest}` },
      { 'X-Gitea-Event': 'push', 'X-Gitea-Signature': gitea.digest.slice(1) },
      { 'X-Event-Key': 'repo:push', 'X-Hub-Signature': bitbucket.digest },
      { 'X-Event-Key': 'repo:push', 'X-Hub-Signature': `sha1=${bitbucket.digest.slice(0, 40)}` },
    ];
    for (const headers of cases) {
      const v = checkWebhookHeaders(h(headers), 's');
      expect(v.ok, JSON.stringify(headers)).toBe(false);
      expect(v.ok === false && v.why).toMatch(/^malformed /);
    }
    // a header node delivered as an array (sent twice) is malformed too
    expect(checkWebhookHeaders({ 'x-gitlab-token': ['a', 'b'] }, 's')).toMatchObject({ ok: false, why: expect.stringMatching(/^malformed /) });
  });

  it('oversized headers are not looked at: credentials are refused, ids and events ignored', () => {
    const long = 'a'.repeat(5000);
    expect(checkWebhookHeaders(h({ 'X-Gitlab-Token': long }), 's')).toMatchObject({ ok: false, why: 'oversized X-Gitlab-Token' });
    expect(checkWebhookHeaders(h({ 'X-Hub-Signature-256': `sha256=${long}` }), 's')).toMatchObject({ ok: false, why: 'malformed X-Hub-Signature-256' });
    const v = verifyWebhook(h({ 'X-GitHub-Event': long, 'X-GitHub-Delivery': long, 'X-Hub-Signature-256': documented }), body, secret);
    expect(v).toEqual({ ok: true, forge: 'github', event: 'push', signature: documented });
    // a delivery id with spaces or control characters is not one either (ids go into log lines)
    const odd = verifyWebhook(h({ 'X-GitHub-Delivery': 'a b', 'X-Hub-Signature-256': documented }), body, secret);
    expect(odd).not.toHaveProperty('delivery');
  });

  it('an empty secret refuses everything', () => {
    expect(checkWebhookHeaders(github.headers, '')).toMatchObject({ ok: false, why: 'no webhook secret configured' });
    expect(checkWebhookHeaders(github.headers, undefined)).toMatchObject({ ok: false, why: 'no webhook secret configured' });
    expect(verifyWebhook(h({ 'X-Gitlab-Token': '' }), body, '')).toMatchObject({ ok: false });
  });

  it('the headers check passes well-formed credentials of each forge', () => {
    for (const [forge, headers, , key] of signed) expect(checkWebhookHeaders(h(headers), key)).toEqual({ ok: true, forge });
  });
});

describe('verifyWebhook: event normalization', () => {
  const gh = (event: string) => verifyWebhook(h({ 'X-GitHub-Event': event, 'X-Hub-Signature-256': documented }), body, secret);
  const gl = (event: string) => verifyWebhook(h({ 'X-Gitlab-Event': event, 'X-Gitlab-Token': 'k' }), body, 'k');
  const gt = (event: string) => verifyWebhook(h({ 'X-Gitea-Event': event, 'X-Gitea-Signature': hex('k', body) }), body, 'k');
  const bb = (event: string) => verifyWebhook(h({ 'X-Event-Key': event, 'X-Hub-Signature': `sha256=${hex('k', body)}` }), body, 'k');
  const event = (v: ReturnType<typeof verifyWebhook>) => (v.ok ? v.event : `refused: ${v.why}`);

  it('GitHub: passed through, lower-cased', () => {
    expect(['push', 'pull_request', 'ping', 'Release'].map((e) => event(gh(e)))).toEqual(['push', 'pull_request', 'ping', 'release']);
  });

  it('GitLab: Push Hook and Tag Push Hook are pushes, Merge Request Hook a pull_request, others lower-cased', () => {
    expect(['Push Hook', 'Tag Push Hook', 'Merge Request Hook', 'Note Hook', 'Pipeline Hook'].map((e) => event(gl(e))))
      .toEqual(['push', 'push', 'pull_request', 'note hook', 'pipeline hook']);
  });

  it('Gitea / Forgejo: push, pull_request (and its sync), others passed through', () => {
    expect(['push', 'pull_request', 'pull_request_sync', 'create', 'release'].map((e) => event(gt(e))))
      .toEqual(['push', 'pull_request', 'pull_request', 'create', 'release']);
  });

  it('Bitbucket: repo:push and repo:refs_changed are pushes, pullrequest:* and pr:* pull requests, diagnostics:ping a ping', () => {
    expect(['repo:push', 'repo:refs_changed', 'pullrequest:created', 'pullrequest:updated', 'pr:opened', 'pr:from_ref_updated', 'diagnostics:ping', 'repo:fork']
      .map((e) => event(bb(e))))
      .toEqual(['push', 'push', 'pull_request', 'pull_request', 'pull_request', 'pull_request', 'ping', 'repo:fork']);
  });

  it('a verified delivery without an event header is taken as a push', () => {
    expect(event(verifyWebhook(h({ 'X-Hub-Signature-256': documented }), body, secret))).toBe('push');
    expect(event(verifyWebhook(h({ 'X-Gitlab-Token': 'k' }), body, 'k'))).toBe('push');
  });
});
