import { describe, expect, it } from 'vitest';
import { COMMENT_LIMIT, COMMENT_MARKER, commentBody, contentDigest, findMarkedComment } from './comment.ts';

/** A long review: heading, a table of `rows` rows, then a collapsed list of `listed` lines in a code fence. */
function longMarkdown(rows: number, listed: number): string {
  const table = Array.from({ length: rows }, (_, i) => `| create | ${i} | replica ${i} of ns/web to create — ünïcödé 🚢 | change |`);
  const list = Array.from({ length: listed }, (_, i) => `  + create         ns/web #${i}`);
  return ['### berth plan', '', '| action | replica | reason | cause |', '| --- | --- | --- | --- |', ...table, '',
    '<details>', '<summary>All actions</summary>', '', '```text', ...list, '```', '', '</details>'].join('\n');
}

describe('COMMENT_MARKER', () => {
  it('is a hidden HTML comment naming the instance', () => {
    expect(COMMENT_MARKER('prod')).toBe('<!-- berth:plan instance=prod -->');
  });

  it('sanitizes the instance so it cannot close the comment', () => {
    const m = COMMENT_MARKER('a --> <b>x</b>');
    expect(m.startsWith('<!-- berth:plan instance=')).toBe(true);
    expect(m.indexOf('-->')).toBe(m.length - 3);
    expect(m).not.toContain('<b>');
  });
});

describe('commentBody', () => {
  it('is the marker then the markdown when it fits', () => {
    expect(commentBody('prod', '### plan\nbody')).toBe(`${COMMENT_MARKER('prod')}\n### plan\nbody`);
  });

  it('truncates on a line boundary to at most the limit, closing the fence and <details>, with a note', () => {
    const md = longMarkdown(200, 5000);
    expect(md.length).toBeGreaterThan(COMMENT_LIMIT);
    const body = commentBody('prod', md, COMMENT_LIMIT, { revision: 'abc1234' });
    expect(body.length).toBeLessThanOrEqual(COMMENT_LIMIT);
    expect(body.startsWith(`${COMMENT_MARKER('prod')}\n### berth plan\n`)).toBe(true);
    const lines = body.split('\n');
    const note = lines.at(-1)!;
    expect(note).toMatch(/^> … truncated: \d+ more lines; run `berth plan --revision abc1234` for the full plan$/);
    // The kept lines are a whole-line prefix of the original.
    const dropped = Number(/truncated: (\d+)/.exec(note)![1]);
    const originalLines = md.split('\n');
    expect(body.startsWith(`${COMMENT_MARKER('prod')}\n${originalLines.slice(0, originalLines.length - dropped).join('\n')}\n`)).toBe(true);
    expect(dropped).toBeGreaterThan(0);
    expect(body).toContain('| create | 199 |');
    // Cut inside the fenced list: the fence and the <details> are closed before the note.
    expect(body.match(/^```/gm)!.length % 2).toBe(0);
    expect(body.split('<details>').length).toBe(body.split('</details>').length);
  });

  it('closes <details> when cut inside it but outside a fence, and stays under small limits', () => {
    const md = ['# t', '<details>', '<summary>s</summary>', '', ...Array.from({ length: 200 }, (_, i) => `- line ${i}`), '</details>'].join('\n');
    for (const limit of [120, 500, 1000, 1500]) {
      const body = commentBody('prod', md, limit);
      expect(body.length).toBeLessThanOrEqual(limit);
      if (body.includes('<details>')) expect(body).toContain('</details>');
      expect(body).toMatch(/truncated: \d+ more lines; run `berth plan` for the full plan$/);
    }
  });

  it('counts characters as JS string length (GitHub counts characters)', () => {
    const md = Array.from({ length: 5000 }, () => '🚢🚢🚢 élan').join('\n');
    const body = commentBody('prod', md, 10_000);
    expect(body.length).toBeLessThanOrEqual(10_000);
    expect(body.length).toBeGreaterThan(9_900);
  });
});

describe('findMarkedComment', () => {
  const marker = COMMENT_MARKER('prod');
  it('finds the comment starting with the instance marker among others', () => {
    const comments = [
      { id: 1, body: 'LGTM', user: { type: 'User' } },
      { id: 2, body: null, user: null },
      { id: 3, body: `${COMMENT_MARKER('prod-eu')}\nother instance`, user: { type: 'Bot' } },
      { id: 4, body: `${marker}\nplan`, user: { type: 'User' } },
      { id: 5, body: `${marker}\nlater duplicate`, user: { type: 'User' } },
    ];
    expect(findMarkedComment(comments, 'prod')?.id).toBe(4);
    expect(findMarkedComment(comments, 'staging')).toBeUndefined();
  });

  it('ignores a comment that only quotes the marker and prefers one posted by a bot', () => {
    const comments = [
      { id: 1, body: `> ${marker}\n> quoted`, user: { type: 'User' } },
      { id: 2, body: `${marker}\nforged by a user`, user: { type: 'User' } },
      { id: 3, body: `${marker}\nberth's own`, user: { type: 'Bot' } },
    ];
    expect(findMarkedComment(comments, 'prod')?.id).toBe(3);
    expect(findMarkedComment(comments.slice(0, 1), 'prod')).toBeUndefined();
  });
});

describe('contentDigest', () => {
  it('is a stable sha256 hex that changes with the content', () => {
    const body = commentBody('prod', '### plan\n**1 to create**');
    expect(contentDigest(body)).toMatch(/^[0-9a-f]{64}$/);
    expect(contentDigest(body)).toBe(contentDigest(commentBody('prod', '### plan\n**1 to create**')));
    expect(contentDigest(body)).not.toBe(contentDigest(commentBody('prod', '### plan\n**2 to create**')));
    expect(contentDigest('')).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
  });
});
