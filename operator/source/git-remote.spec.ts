import { describe, expect, it } from 'vitest';
import { BerthError } from '../model/errors.ts';
import { gitError } from './git-repo.ts';
import { redact } from '../util/redact.ts';
import { parseRemoteUrl } from './git-remote.ts';

describe('parseRemoteUrl', () => {
  it('splits credentials off the URL', () => {
    expect(parseRemoteUrl('https://user:tok%2Fen@git.example.com/team/repo.git/')).toEqual({
      url: 'https://git.example.com/team/repo.git', username: 'user', password: 'tok/en', secrets: ['tok%2Fen', 'tok/en'],
    });
  });

  it('treats a long username without password as a token', () => {
    expect(parseRemoteUrl('https://ghp_abcdefgh123@github.com/o/r.git')?.secrets).toEqual(['ghp_abcdefgh123']);
    expect(parseRemoteUrl('http://git@example.com/r.git')).toMatchObject({ url: 'http://example.com/r.git', username: 'git', secrets: [] });
  });

  it('returns null for local paths and throws E_CONFIG without echoing a bad URL', () => {
    expect(parseRemoteUrl('/srv/repo.git')).toBeNull();
    expect(parseRemoteUrl('./repo')).toBeNull();
    const err = (() => { try { parseRemoteUrl('http://u:secret@[bad'); return null; } catch (e) { return e; } })();
    expect(err).toBeInstanceOf(BerthError);
    expect((err as BerthError).code).toBe('E_CONFIG');
    expect((err as BerthError).message).not.toContain('secret');
  });
});

describe('gitError', () => {
  it('is a transient E_GIT with secrets removed from message and cause', () => {
    const cause = Object.assign(new Error('GET https://u:s3cret@h/r.git failed'), { code: 'HttpError', data: { statusCode: 500, statusMessage: 'Boom' } });
    const err = gitError('cannot list refs of https://h/r.git', cause, ['s3cret']);
    expect([err.code, err.terminal]).toEqual(['E_GIT', false]);
    expect(err.message).toBe('cannot list refs of https://h/r.git: HTTP 500 Boom');
    expect(String((err.cause as Error).message)).toBe('GET https://u:***@h/r.git failed');
    expect(redact('a-x-a', ['a'])).toBe('***-x-***');
  });
});
