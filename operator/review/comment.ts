/**
 * The one pull request comment berth keeps per instance: found by a hidden marker, kept under GitHub's comment size
 * limit, and skipped when its content is unchanged (Renovate's `ensureComment`). Pure; the GitHub calls live in a sink.
 */
import { createHash } from 'node:crypto';

/** GitHub rejects comment bodies longer than this many characters. */
export const COMMENT_LIMIT = 65536;

/** The hidden first line of berth's comment for `instance`; the instance is reduced to characters safe in an HTML comment. */
export function COMMENT_MARKER(instance: string): string {
  const safe = instance.replace(/[^A-Za-z0-9._-]/g, '_').replace(/-{2,}/g, '-') || '_';
  return `<!-- berth:plan instance=${safe} -->`;
}

export interface CommentBodyOptions {
  /** Revision named in the truncation note (`berth plan --revision <rev>`). */
  revision?: string;
}

/**
 * Marker + markdown, at most `limit` characters (JS string length, as GitHub counts). When too long, whole lines are
 * dropped from the end, any open code fence and `<details>` are closed, and a note says how many lines were cut.
 */
export function commentBody(instance: string, markdown: string, limit = COMMENT_LIMIT, opts: CommentBodyOptions = {}): string {
  const marker = COMMENT_MARKER(instance);
  const full = `${marker}\n${markdown}`;
  if (full.length <= limit) return full;
  const lines = markdown.split('\n');
  const state: OpenBlocks = { fence: null, details: 0 };
  let best = { kept: 0, footer: footer(state, lines.length, opts) };
  let length = marker.length;
  for (let i = 0; i < lines.length; i++) {
    length += 1 + (lines[i] ?? '').length;
    track(state, lines[i] ?? '');
    const end = footer(state, lines.length - i - 1, opts);
    if (length + 1 + end.length > limit) break;
    best = { kept: i + 1, footer: end };
  }
  const body = [marker, ...lines.slice(0, best.kept), best.footer].join('\n');
  // Only a limit smaller than the marker and the note themselves gets here; never exceed it.
  return body.length <= limit ? body : body.slice(0, limit);
}

/** The first comment carrying `instance`'s marker as its first line, preferring one posted by a bot (berth as an App). */
export function findMarkedComment<T extends { id: number; body?: string | null; user?: { type?: string } | null }>(comments: T[], instance: string): T | undefined {
  const marker = COMMENT_MARKER(instance);
  const marked = comments.filter((c) => (c.body ?? '').trimStart().split(/\r?\n/, 1)[0]?.trim() === marker);
  return marked.find((c) => c.user?.type === 'Bot') ?? marked[0];
}

/** sha256 hex of a comment body: equal digests mean the update can be skipped. */
export function contentDigest(body: string): string {
  return createHash('sha256').update(body, 'utf8').digest('hex');
}

interface OpenBlocks {
  /** The fence line opening the code block we are inside, if any. */
  fence: string | null;
  details: number;
}

function track(state: OpenBlocks, line: string): void {
  const fence = /^ {0,3}(`{3,}|~{3,})/.exec(line)?.[1];
  if (state.fence !== null) {
    const close = /^ {0,3}(`{3,}|~{3,})\s*$/.exec(line)?.[1];
    if (close && close[0] === state.fence[0] && close.length >= state.fence.length) state.fence = null;
    return;
  }
  if (fence) { state.fence = fence; return; }
  state.details += (line.match(/<details[\s>]/gi) ?? []).length - (line.match(/<\/details\s*>/gi) ?? []).length;
  if (state.details < 0) state.details = 0;
}

function footer(state: OpenBlocks, dropped: number, opts: CommentBodyOptions): string {
  const out: string[] = [];
  if (state.fence !== null) out.push(state.fence[0]!.repeat(state.fence.length));
  out.push('');
  for (let i = 0; i < state.details; i++) out.push('</details>', '');
  const rerun = opts.revision ? `berth plan --revision ${opts.revision.replace(/[^A-Za-z0-9._/@^~-]/g, '')}` : 'berth plan';
  out.push(`> … truncated: ${dropped} more ${dropped === 1 ? 'line' : 'lines'}; run \`${rerun}\` for the full plan`);
  return out.join('\n');
}
