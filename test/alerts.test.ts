/** Alerts against real HTTP receivers on loopback: payload, muting, recovery, dead and slow receivers, no secrets in logs. */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAlerter, type Alert } from '../operator/alerts/alerter.ts';
import { createLogger, silentLogger } from '../operator/util/log.ts';

interface Received {
  url: string;
  headers: IncomingHttpHeaders;
  body: Record<string, unknown>;
}

interface Receiver {
  base: string;
  received: Received[];
  server: Server;
}

/** A receiver answering `status` to every POST, or never answering when `status` is 'hang'. */
async function receiver(status: number | 'hang'): Promise<Receiver> {
  const received: Received[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({ url: req.url ?? '', headers: req.headers, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown> });
      if (status !== 'hang') res.writeHead(status, { 'content-type': 'text/plain' }).end('ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, received, server };
}

async function closedPortUrl(): Promise<string> {
  const r = await receiver(200);
  await close(r);
  return `${r.base}/dead`;
}

async function close(r: Receiver): Promise<void> {
  r.server.closeAllConnections();
  await new Promise<void>((resolve) => r.server.close(() => resolve()));
}

const crashloop: Alert = {
  kind: 'crashloop', severity: 'critical', key: 'crashloop:shop/web#2', title: 'CrashLoop',
  text: 'shop/web replica 2 restarted 4 times (exit 1); next restart in 8s', fields: { service: 'shop/web', replica: '2', exitCode: '1' },
};
const recovered: Alert = { kind: 'recovered', severity: 'info', key: crashloop.key, title: 'Recovered', text: 'shop/web replica 2 is running again' };

describe('alerts to webhook receivers', () => {
  let live: Receiver;
  let failing: Receiver;
  let slow: Receiver;
  beforeAll(async () => {
    [live, failing, slow] = await Promise.all([receiver(200), receiver(503), receiver('hang')]);
  });
  afterAll(async () => {
    await Promise.all([live, failing, slow].map(close));
  });

  it('POSTs Slack text plus structured fields as JSON', async () => {
    const alerter = createAlerter({ urls: [`${live.base}/payload`], muteMs: 60_000, log: silentLogger, instance: 'default', now: () => Date.UTC(2024, 4, 1) });
    await alerter.send(crashloop);
    const got = live.received.filter((r) => r.url === '/payload');
    expect(got).toHaveLength(1);
    expect(got[0]?.headers['content-type']).toBe('application/json');
    expect(got[0]?.body).toEqual({
      text: '[berth default] CrashLoop: shop/web replica 2 restarted 4 times (exit 1); next restart in 8s',
      instance: 'default', kind: 'crashloop', severity: 'critical', key: 'crashloop:shop/web#2', title: 'CrashLoop',
      fields: { service: 'shop/web', replica: '2', exitCode: '1' }, time: '2024-05-01T00:00:00.000Z',
    });
    expect(alerter.stats()).toEqual({ sent: 1, muted: 0, failed: 0 });
  });

  it('mutes repeats of a key within the window (injected clock) and sends again after it', async () => {
    let now = 1_000_000;
    const alerter = createAlerter({ urls: [`${live.base}/mute`], muteMs: 10 * 60_000, log: silentLogger, instance: 'default', now: () => now });
    await alerter.send(crashloop);
    now += 5 * 60_000;
    await alerter.send(crashloop);
    await alerter.send({ ...crashloop, key: 'crashloop:shop/web#3' });
    now += 6 * 60_000;
    await alerter.send(crashloop);
    expect(live.received.filter((r) => r.url === '/mute').map((r) => r.body.key)).toEqual(['crashloop:shop/web#2', 'crashloop:shop/web#3', 'crashloop:shop/web#2']);
    expect(alerter.stats()).toEqual({ sent: 3, muted: 1, failed: 0 });
  });

  it('a recovered alert is delivered and clears the mute of its key', async () => {
    let now = 5_000;
    const alerter = createAlerter({ urls: [`${live.base}/recover`], muteMs: 10 * 60_000, log: silentLogger, instance: 'default', now: () => now });
    await alerter.send(crashloop);
    now += 1_000;
    await alerter.send(crashloop);
    await alerter.send(recovered);
    now += 1_000;
    await alerter.send(crashloop);
    expect(live.received.filter((r) => r.url === '/recover').map((r) => r.body.kind)).toEqual(['crashloop', 'recovered', 'crashloop']);
    expect(alerter.stats()).toEqual({ sent: 3, muted: 1, failed: 0 });
  });

  it('a dead receiver and a 5xx receiver do not stop delivery to the live one; nothing is thrown', async () => {
    const urls = [await closedPortUrl(), `${failing.base}/hook`, `${live.base}/fanout`];
    const alerter = createAlerter({ urls, muteMs: 60_000, log: silentLogger, instance: 'default' });
    await expect(alerter.send(crashloop)).resolves.toBeUndefined();
    expect(live.received.filter((r) => r.url === '/fanout')).toHaveLength(1);
    expect(failing.received).toHaveLength(1);
    expect(alerter.stats()).toEqual({ sent: 1, muted: 0, failed: 2 });
  });

  it('an alert no receiver accepted is not muted: the next one is tried again', async () => {
    const alerter = createAlerter({ urls: [await closedPortUrl()], muteMs: 60_000, log: silentLogger, instance: 'default' });
    await alerter.send(crashloop);
    await alerter.send(crashloop);
    expect(alerter.stats()).toEqual({ sent: 0, muted: 0, failed: 2 });
  });

  it('a slow receiver times out without delaying the others beyond the timeout', async () => {
    const alerter = createAlerter({ urls: [`${slow.base}/slow`, `${live.base}/beside-slow`], muteMs: 60_000, log: silentLogger, instance: 'default', timeoutMs: 300 });
    const started = Date.now();
    await alerter.send(crashloop);
    const elapsed = Date.now() - started;
    expect(elapsed).toBeGreaterThanOrEqual(250);
    expect(elapsed).toBeLessThan(3_000);
    expect(slow.received.filter((r) => r.url === '/slow')).toHaveLength(1);
    expect(live.received.filter((r) => r.url === '/beside-slow')).toHaveLength(1);
    expect(alerter.stats()).toEqual({ sent: 1, muted: 0, failed: 1 });
  });

  it('never logs URL secrets (userinfo, query tokens), only the host; credentials go in an Authorization header', async () => {
    const lines: string[] = [];
    const log = createLogger({ level: 'debug', write: (line) => lines.push(line) });
    const secretLive = `${live.base.replace('http://', 'http://bot:hunter2@')}/secret?token=tok-live-123`;
    const secretFailing = `${failing.base.replace('http://', 'http://bot:hunter3@')}/secret?token=tok-fail-456`;
    const alerter = createAlerter({ urls: [secretLive, secretFailing], muteMs: 60_000, log, instance: 'default' });
    await alerter.send(crashloop);
    await alerter.send(crashloop); // muted
    const got = live.received.find((r) => r.url.startsWith('/secret'));
    expect(got?.url).toBe('/secret?token=tok-live-123');
    expect(got?.headers.authorization).toBe(`Basic ${Buffer.from('bot:hunter2').toString('base64')}`);
    expect(lines.length).toBeGreaterThan(0);
    const text = lines.join('\n');
    for (const secret of ['hunter2', 'hunter3', 'tok-live-123', 'tok-fail-456', 'token=', 'bot:']) expect(text).not.toContain(secret);
    expect(text).toContain(new URL(failing.base).host);
  });

  it('rejects a malformed URL at creation with E_CONFIG, without echoing it', () => {
    expect(() => createAlerter({ urls: ['http://ok.example/hook', 'ht!tp://sec ret'], muteMs: 1, log: silentLogger, instance: 'x' }))
      .toThrow(expect.objectContaining({ code: 'E_CONFIG', message: expect.not.stringContaining('sec ret') }));
  });
});
