import { describe, expect, it } from 'vitest';
import { createLogger } from './log.ts';
import { Redactor } from './redact.ts';

describe('Redactor', () => {
  it('removes registered secrets, their URL-encoded form and URL credentials from text, data and log lines', () => {
    const r = new Redactor().add('tok/en+1234').addUrlCredentials('https://me:p%40ss-word@git.example/repo.git').add('ab');
    expect(r.text('a tok/en+1234 b tok%2Fen%2B1234 c')).toBe('a *** b *** c');
    expect(r.text('pw p@ss-word and p%40ss-word')).toBe('pw *** and ***');
    expect(r.text('ab stays')).toBe('ab stays');
    expect(r.deep({ a: ['x tok/en+1234'], n: 3, e: null })).toEqual({ a: ['x ***'], n: 3, e: null });
    const lines: string[] = [];
    r.logger(createLogger({ write: (l) => lines.push(l) })).error('failed tok/en+1234', { url: 'https://me:p%40ss-word@git.example', err: new Error('p@ss-word') });
    expect(lines.join('\n')).not.toMatch(/tok\/en|p@ss|p%40ss/);
  });
});
