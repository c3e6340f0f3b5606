/**
 * Dockerfiles for the engine's built-in frontend (pure). dockerd 20.10's BuildKit parses Dockerfiles with its built-in
 * dockerfile frontend (dockerfile syntax 1.2: `RUN --mount`, multi-stage, `--target`), which has no heredocs; newer
 * syntax is reached with a `# syntax=docker/dockerfile:1.4` line, which makes BuildKit pull that frontend image from
 * Docker Hub. So that such Dockerfiles (every awesome-compose sample) build on an engine that cannot or may not pull:
 * - a `# syntax=` directive naming docker/dockerfile is dropped (the line becomes a comment, after the other
 *   directives, so `# escape=` still counts) when the engine lacks that image;
 * - `RUN <<EOF ... EOF` heredocs become the exec form of the stage's shell, with the meaning dockerfile 1.4 gives them:
 *   a RUN whose command is a single heredoc runs its body as a shell script; any other (`RUN <<EOT bash`,
 *   `RUN cat <<EOF > /f`) passes the command line and the bodies to the shell, which reads heredocs itself;
 * - line numbers stay: a rewritten instruction is followed by blank lines for the ones it replaced.
 * Refused, at their line: heredocs in COPY/ADD, and a heredoc script starting with `#!`.
 */

export class DockerfileError extends Error {
  constructor(readonly line: number, message: string) {
    super(message);
  }
}

const DIRECTIVE = /^#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$/;
const DEFAULT_SHELL = ['/bin/sh', '-c'];

/** The `# syntax=` parser directive of `text` (1-based line), if any. */
export function syntaxDirective(text: string): { image: string; line: number } | undefined {
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const m = DIRECTIVE.exec(lines[i]!);
    if (!m) return undefined;
    if (m[1]!.toLowerCase() === 'syntax') return { image: m[2]!, line: i + 1 };
  }
  return undefined;
}

/** True for the frontend images Docker publishes (docker/dockerfile[-upstream][:tag][@digest]). */
export function isDockerfileFrontend(image: string): boolean {
  return /^(docker\.io\/)?docker\/dockerfile(-upstream)?(:[\w][\w.-]*)?(@sha256:[0-9a-f]{64})?$/.test(image);
}

interface Heredoc {
  /** The marker as written, e.g. `<<-"EOF"`. */
  raw: string;
  name: string;
  chomp: boolean;
}

/**
 * `text` as the built-in frontend reads it: without the syntax directive when `dropSyntax`, RUN heredocs in exec form.
 * Returns `text` itself when nothing changes. Throws DockerfileError for a heredoc it cannot translate.
 */
export function forBuiltinFrontend(text: string, dropSyntax: boolean): string {
  const lines = text.split(/\r?\n/);
  const out: string[] = [];
  let changed = false;
  let i = 0;
  let escape = '\\';
  const kept: string[] = [];
  let dropped: string | undefined;
  for (; i < lines.length; i++) {
    const m = DIRECTIVE.exec(lines[i]!);
    if (!m) break;
    const key = m[1]!.toLowerCase();
    if (key === 'escape' && (m[2] === '`' || m[2] === '\\')) escape = m[2];
    if (key === 'syntax' && dropSyntax) dropped = m[2];
    else kept.push(lines[i]!);
  }
  out.push(...kept);
  if (dropped !== undefined) {
    out.push(`# berth: syntax ${dropped} dropped, built by the engine's own frontend`);
    changed = true;
  }
  const shells = new Map<string, string[]>();
  let stage: string | undefined;
  let shell = DEFAULT_SHELL;
  while (i < lines.length) {
    const first = lines[i]!;
    if (first.trim() === '' || first.trimStart().startsWith('#')) {
      out.push(first);
      i++;
      continue;
    }
    const start = i;
    const logical = joinContinued(lines, escape, i);
    i = logical.next;
    const [word = '', ...restWords] = logical.text.trim().split(/\s+/);
    const instruction = word.toUpperCase();
    if (instruction === 'FROM') {
      const args = restWords.filter((w) => !w.startsWith('--'));
      shell = shells.get((args[0] ?? '').toLowerCase()) ?? DEFAULT_SHELL;
      stage = args[1]?.toUpperCase() === 'AS' ? args[2]?.toLowerCase() : undefined;
    }
    if (instruction === 'SHELL') {
      const parsed = jsonArray(logical.text.trim().slice(word.length).trim());
      if (parsed) shell = parsed;
    }
    if (stage !== undefined) shells.set(stage, shell);
    const heredocs = instruction === 'RUN' || instruction === 'COPY' || instruction === 'ADD' ? markers(logical.text) : [];
    if (heredocs.length === 0) {
      out.push(...lines.slice(start, i));
      continue;
    }
    if (instruction !== 'RUN') throw new DockerfileError(start + 1, `${instruction} with a heredoc (${heredocs[0]!.raw}) is not supported by the engine's built-in Dockerfile frontend; berth translates RUN heredocs only: put the content in a file of the build context`);
    const bodies: string[][] = [];
    for (const h of heredocs) {
      const body: string[] = [];
      for (;;) {
        if (i >= lines.length) throw new DockerfileError(start + 1, `heredoc ${h.raw} has no closing ${h.name} line`);
        const line = lines[i++]!;
        if ((h.chomp ? line.replace(/^\t+/, '') : line) === h.name) break;
        body.push(line);
      }
      bodies.push(body);
    }
    out.push(runInExecForm(logical.text, heredocs, bodies, shell, start + 1));
    for (let k = start + 1; k < i; k++) out.push('');
    changed = true;
  }
  return changed ? out.join('\n') : text;
}

function runInExecForm(logical: string, heredocs: Heredoc[], bodies: string[][], shell: string[], line: number): string {
  const rest = logical.trim().replace(/^\S+\s*/, '');
  const flags: string[] = [];
  let command = rest;
  for (let m = /^(--\S+)\s*/.exec(command); m; m = /^(--\S+)\s*/.exec(command)) {
    flags.push(m[1]!);
    command = command.slice(m[0].length);
  }
  command = command.trim();
  let script: string;
  if (heredocs.length === 1 && command === heredocs[0]!.raw) {
    const body = bodies[0]!.map((l) => (heredocs[0]!.chomp ? l.replace(/^\t+/, '') : l));
    script = body.map((l) => `${l}\n`).join('');
    if (script.startsWith('#!')) throw new DockerfileError(line, `RUN ${heredocs[0]!.raw} with a #! script is not supported by the engine's built-in Dockerfile frontend; name the interpreter instead (RUN python3 ${heredocs[0]!.raw})`);
  } else {
    script = command + heredocs.map((h, k) => `\n${bodies[k]!.map((l) => `${l}\n`).join('')}${h.name}`).join('');
  }
  return ['RUN', ...flags, JSON.stringify([...shell, script])].join(' ');
}

/** One instruction with its continuation lines (comment lines inside it skipped, as the parser does). */
function joinContinued(lines: string[], escape: string, from: number): { text: string; next: number } {
  let text = '';
  let i = from;
  while (i < lines.length) {
    const line = lines[i++]!;
    if (i - 1 > from && line.trimStart().startsWith('#')) continue;
    const trimmed = line.replace(/\s+$/, '');
    if (trimmed.endsWith(escape)) {
      text += trimmed.slice(0, -1);
      continue;
    }
    text += line;
    break;
  }
  return { text, next: i };
}

/** The heredoc markers (`<<EOF`, `<<-EOF`, `<<"EOF"`, `<<'EOF'`) of a shell-form line, outside quotes. */
function markers(line: string): Heredoc[] {
  const rest = line.trim().replace(/^\S+\s*/, '');
  if (rest.replace(/^(--\S+\s*)*/, '').startsWith('[')) return [];
  const found: Heredoc[] = [];
  let quote: string | undefined;
  for (let k = 0; k < line.length; k++) {
    const c = line[k]!;
    if (quote) {
      if (c === quote) quote = undefined;
      else if (c === '\\' && quote === '"') k++;
      continue;
    }
    if (c === '"' || c === "'") {
      quote = c;
      continue;
    }
    if (c === '\\') {
      k++;
      continue;
    }
    if (c !== '<' || line[k + 1] !== '<' || line[k + 2] === '<' || (k > 0 && line[k - 1] === '<')) continue;
    const m = /^<<(-?)(["']?)([A-Za-z_][A-Za-z0-9_]*)\2/.exec(line.slice(k));
    if (!m) continue;
    found.push({ raw: m[0], name: m[3]!, chomp: m[1] === '-' });
    k += m[0].length - 1;
  }
  return found;
}

function jsonArray(text: string): string[] | undefined {
  try {
    const v: unknown = JSON.parse(text);
    return Array.isArray(v) && v.length > 0 && v.every((x) => typeof x === 'string') ? v : undefined;
  } catch {
    return undefined;
  }
}
