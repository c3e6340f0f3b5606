/**
 * Escaping of user-provided text (names, reasons, messages, paths) for GitHub-flavoured markdown, so a manifest
 * cannot inject markup into a pull request comment: no HTML, no table breaks, no links, no @-mentions.
 */

/** Text safe in a paragraph, a list item or a table cell: one line, HTML entity-escaped, markdown punctuation backslashed. */
export function escapeText(s: string): string {
  return oneLine(s)
    .replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;')
    .replace(/[\\`*_[\]|~$]/g, '\\$&')
    // A zero-width space after `@` keeps GitHub from notifying a user or team named in a manifest (as Renovate does).
    .replace(/@/g, '@&#8203;');
}

/**
 * An inline code span holding `s` literally, fenced by more backticks than any run inside it.
 * `inTable`: pipes are backslashed, which GFM requires inside table cells even within code spans.
 */
export function code(s: string, inTable = false): string {
  let body = oneLine(s);
  if (inTable) body = body.replace(/\|/g, '\\|');
  if (body === '') return '` `';
  const longest = Math.max(0, ...(body.match(/`+/g) ?? []).map((run) => run.length));
  const fence = '`'.repeat(longest + 1);
  const pad = body.startsWith('`') || body.endsWith('`') || (body.startsWith(' ') && body.endsWith(' ')) ? ' ' : '';
  return `${fence}${pad}${body}${pad}${fence}`;
}

/** A fenced code block around `text`, with a fence longer than any backtick run inside it. */
export function codeBlock(text: string, info = 'text'): string {
  const longest = Math.max(0, ...(text.match(/`+/g) ?? []).map((run) => run.length));
  const fence = '`'.repeat(Math.max(3, longest + 1));
  return `${fence}${info}\n${text}\n${fence}`;
}

function oneLine(s: string): string {
  return s.replace(/\r\n|[\r\n\u2028\u2029]/g, ' ').replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/g, '');
}
