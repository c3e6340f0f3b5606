import { describe, expect, it } from 'vitest';
import { alertPayload, alertText, parseReceiver } from './webhook.ts';

describe('parseReceiver', () => {
  it('keeps a plain URL and reports its host', () => {
    expect(parseReceiver('https://hooks.example.com/services/T0/B0/xyz', 0)).toEqual({
      url: 'https://hooks.example.com/services/T0/B0/xyz', host: 'hooks.example.com', headers: {},
    });
  });

  it('moves userinfo into a Basic Authorization header and keeps query tokens out of the host', () => {
    const r = parseReceiver('http://bot:s%40cret@127.0.0.1:8080/hook?token=abc', 1);
    expect(r.url).toBe('http://127.0.0.1:8080/hook?token=abc');
    expect(r.host).toBe('127.0.0.1:8080');
    expect(r.headers.authorization).toBe(`Basic ${Buffer.from('bot:s@cret').toString('base64')}`);
  });

  it.each([['not a url'], ['ftp://x.example/hook'], ['file:///etc/passwd']])('rejects %s with E_CONFIG naming only its position', (raw) => {
    let caught: unknown;
    try {
      parseReceiver(raw, 2);
    } catch (err) {
      caught = err;
    }
    expect(caught).toMatchObject({ code: 'E_CONFIG' });
    expect((caught as Error).message).toContain('#3');
    expect((caught as Error).message).not.toContain(raw);
  });
});

describe('alertPayload', () => {
  const alert = {
    kind: 'crashloop', severity: 'critical', key: 'crashloop:shop/web#2', title: 'CrashLoop',
    text: 'shop/web replica 2 restarted 4 times (exit 1); next restart in 8s', fields: { service: 'shop/web', replica: '2' },
  };

  it('has a Slack text line and the structured fields', () => {
    expect(alertPayload('default', alert, Date.UTC(2024, 4, 1, 10, 0, 0))).toEqual({
      text: '[berth default] CrashLoop: shop/web replica 2 restarted 4 times (exit 1); next restart in 8s',
      instance: 'default', kind: 'crashloop', severity: 'critical', key: 'crashloop:shop/web#2', title: 'CrashLoop',
      fields: { service: 'shop/web', replica: '2' }, time: '2024-05-01T10:00:00.000Z',
    });
  });

  it('defaults fields to an empty object', () => {
    const { fields: _fields, ...bare } = alert;
    expect(alertPayload('x', bare, 0).fields).toEqual({});
    expect(alertText('x', bare)).toBe('[berth x] CrashLoop: shop/web replica 2 restarted 4 times (exit 1); next restart in 8s');
  });
});
