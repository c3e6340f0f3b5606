import { describe, expect, it } from 'vitest';
import { COMMANDS, FLAGS } from '../settings/flags.ts';
import { completionModel, completionScript } from './completion.ts';

describe('completion scripts', () => {
  it('cover every command and every flag of the tables, with the values of flags that have choices', () => {
    const model = completionModel();
    expect(model.map((m) => m.command)).toEqual(COMMANDS);
    const bash = completionScript('bash');
    for (const m of model) {
      expect(m.flags.map((f) => f.name)).toEqual([...Object.keys(FLAGS[m.command]), 'help']);
      expect(bash).toContain(`    ${m.command}) flags='`);
    }
    expect(bash).toContain(`'status -o') COMPREPLY=( $(compgen -W 'text json yaml' -- "$cur") ); return ;;`);
    expect(bash).toContain(`'run --repo') COMPREPLY=( $(compgen -f -- "$cur") ); return ;;`);
    expect(completionScript('zsh')).toContain(`'(-o --output)'{-o,--output}'[text | json | yaml | markdown (default text)]:output:(text json yaml markdown)'`);
    expect(completionScript('fish')).toContain("complete -c berth -n '__fish_seen_subcommand_from completion' -a 'bash zsh fish'");
  });

  it('quote help texts for each shell (brackets and colons for zsh, quotes everywhere)', () => {
    const zsh = completionScript('zsh');
    expect(zsh).toContain("'--max-file-size[a manifest file larger than this rejects the revision (checked before parsing)]:max-file-size:_files'");
    expect(zsh).toContain("'--github-api-url[GitHub API root (GitHub Enterprise\\: https\\://host/api/v3)]:github-api-url:_files'");
    expect(completionScript('fish')).toContain("-d 'where berth commits a newer tag chosen by a spec.imagePolicy");
    expect(completionScript('bash')).not.toMatch(/flags='[^']*\n/);
  });
});
