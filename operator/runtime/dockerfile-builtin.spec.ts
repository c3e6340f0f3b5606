/** Dockerfiles rewritten for the engine's built-in frontend: syntax directives and RUN heredocs. */
import { describe, expect, it } from 'vitest';
import { DockerfileError, forBuiltinFrontend, isDockerfileFrontend, syntaxDirective } from './dockerfile-builtin.ts';

const rewrite = (lines: string[], dropSyntax = true) => forBuiltinFrontend(lines.join('\n'), dropSyntax).split('\n');

function refusal(lines: string[]): DockerfileError {
  try {
    forBuiltinFrontend(lines.join('\n'), true);
  } catch (err) {
    if (err instanceof DockerfileError) return err;
    throw err;
  }
  throw new Error('not refused');
}

describe('syntax directives', () => {
  it('finds the directive among the leading ones only', () => {
    expect(syntaxDirective('# syntax = docker/dockerfile:1.4\nFROM x\n')).toEqual({ image: 'docker/dockerfile:1.4', line: 1 });
    expect(syntaxDirective('# escape=`\n#syntax=docker/dockerfile:1\nFROM x\n')).toEqual({ image: 'docker/dockerfile:1', line: 2 });
    expect(syntaxDirective('# a comment\n# syntax=docker/dockerfile:1\nFROM x\n')).toBeUndefined();
    expect(syntaxDirective('FROM x\n')).toBeUndefined();
  });

  it('knows Docker\'s frontend images from others', () => {
    for (const ok of ['docker/dockerfile', 'docker/dockerfile:1', 'docker/dockerfile:1.4-labs', 'docker.io/docker/dockerfile-upstream:master', `docker/dockerfile@sha256:${'a'.repeat(64)}`]) expect(isDockerfileFrontend(ok)).toBe(true);
    for (const no of ['tonistiigi/dockerfile:1', 'registry.example.com/docker/dockerfile:1', 'docker/dockerfilex']) expect(isDockerfileFrontend(no)).toBe(false);
  });

  it('drops the syntax line in place, keeping the other directives first and every line number', () => {
    const out = rewrite(['# syntax=docker/dockerfile:1.4', '# escape=`', 'FROM x', 'RUN a `', '  b']);
    expect(out).toEqual(['# escape=`', "# berth: syntax docker/dockerfile:1.4 dropped, built by the engine's own frontend", 'FROM x', 'RUN a `', '  b']);
    expect(forBuiltinFrontend('# syntax=docker/dockerfile:1\nFROM x\n', false)).toBe('# syntax=docker/dockerfile:1\nFROM x\n');
  });

  it('returns the text itself when nothing changes', () => {
    const text = 'FROM x\r\nRUN echo "<<EOF"\r\nRUN ["sh", "-c", "cat <<EOF"]\r\n';
    expect(forBuiltinFrontend(text, true)).toBe(text);
  });
});

describe('RUN heredocs', () => {
  it('a RUN of one heredoc runs its body as a script of the shell, padded to keep line numbers', () => {
    const out = rewrite(['FROM x', 'RUN --mount=type=cache,target=/c <<EOF', 'apk update', 'echo "$GREET" > /f', 'EOF', 'CMD ["sh"]']);
    expect(out).toEqual(['FROM x', `RUN --mount=type=cache,target=/c ${JSON.stringify(['/bin/sh', '-c', 'apk update\necho "$GREET" > /f\n'])}`, '', '', '', 'CMD ["sh"]']);
  });

  it('<<- strips leading tabs; quoted delimiters are heredocs too', () => {
    expect(rewrite(['FROM x', 'RUN <<-"EOT"', '\techo a', '\tEOT'])[1]).toBe(`RUN ${JSON.stringify(['/bin/sh', '-c', 'echo a\n'])}`);
  });

  it('a command with heredocs passes the command line and the bodies to the shell', () => {
    const out = rewrite(['FROM x', 'RUN <<EOT bash', 'set -ex', 'echo hi', 'EOT', 'RUN cat <<A > /a && cat <<B > /b', '1', 'A', '2', 'B']);
    expect(out[1]).toBe(`RUN ${JSON.stringify(['/bin/sh', '-c', '<<EOT bash\nset -ex\necho hi\nEOT'])}`);
    expect(out[5]).toBe(`RUN ${JSON.stringify(['/bin/sh', '-c', 'cat <<A > /a && cat <<B > /b\n1\nA\n2\nB'])}`);
    expect(out).toHaveLength(10);
  });

  it('uses the stage\'s SHELL, inherited by a stage built FROM it, reset by an external FROM', () => {
    const out = rewrite(['FROM x AS one', 'SHELL ["/bin/bash", "-eo", "pipefail", "-c"]', 'FROM one AS two', 'RUN <<EOF', 'a', 'EOF', 'FROM y', 'RUN <<EOF', 'b', 'EOF']);
    expect(out[3]).toBe(`RUN ${JSON.stringify(['/bin/bash', '-eo', 'pipefail', '-c', 'a\n'])}`);
    expect(out[7]).toBe(`RUN ${JSON.stringify(['/bin/sh', '-c', 'b\n'])}`);
  });

  it('a heredoc marker after continuation lines is found; markers in quotes are not', () => {
    const out = rewrite(['FROM x', 'RUN --network=none \\', '  # a comment', '  <<EOF', 'true', 'EOF', "RUN echo '<<EOF'"]);
    expect(out[1]).toBe(`RUN --network=none ${JSON.stringify(['/bin/sh', '-c', 'true\n'])}`);
    expect(out.slice(2, 6)).toEqual(['', '', '', '']);
    expect(out[6]).toBe("RUN echo '<<EOF'");
  });

  it('refuses COPY heredocs, #! scripts and an unclosed heredoc at their line', () => {
    expect(refusal(['FROM x', 'COPY <<EOF /f', 'a', 'EOF'])).toMatchObject({ line: 2, message: expect.stringContaining('COPY with a heredoc (<<EOF)') });
    expect(refusal(['FROM x', '', 'RUN <<EOF', '#!/usr/bin/env python3', 'print(1)', 'EOF'])).toMatchObject({ line: 3, message: expect.stringContaining('#! script') });
    expect(refusal(['FROM x', 'RUN <<EOF', 'echo'])).toMatchObject({ line: 2, message: 'heredoc <<EOF has no closing EOF line' });
  });
});
