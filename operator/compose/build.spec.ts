/** compose `build` -> spec.build: context, dockerfile, args (list or map, `KEY` alone from the variables) and target. */
import { describe, expect, it } from 'vitest';
import { parseEntries } from '../manifests/parse.ts';
import { loadDesired } from '../manifests/load.ts';
import { memorySnapshot } from '../source/memory-source.ts';
import { formatIssue } from '../model/errors.ts';

const DOCKERFILE = 'FROM berth-local/busybox:1 AS base\nARG GREETING\nFROM base AS final\n';
const parse = (build: string, dotEnv = '') =>
  parseEntries([
    { path: 'stack/compose.yaml', content: `services:\n  web:\n    build:\n${build}` },
    { path: 'stack/.env', content: dotEnv },
    { path: 'stack/Dockerfile', content: DOCKERFILE },
  ]);

describe('compose build args and target', () => {
  it('maps a map of args and the target; numbers become strings', () => {
    const r = parse('      context: .\n      args: { GREETING: hello, N: 3 }\n      target: base\n');
    expect(r.issues).toEqual([]);
    expect((r.entries[0]?.doc.value as { spec: unknown }).spec).toMatchObject({ build: { context: 'stack', args: { GREETING: 'hello', N: '3' }, target: 'base' } });
  });

  it('a list of KEY=value; KEY alone (list or map) takes the variable, and is left out when it is not set', () => {
    const list = parse('      context: .\n      args:\n        - A=1=2\n        - FROM_ENV\n        - UNSET\n', 'FROM_ENV=from .env\n');
    expect(list.issues).toEqual([]);
    expect((list.entries[0]?.doc.value as { spec: { build: unknown } }).spec.build).toEqual({ context: 'stack', args: { A: '1=2', FROM_ENV: 'from .env' } });
    const map = parse('      context: .\n      args:\n        FROM_ENV:\n        UNSET:\n', 'FROM_ENV=x\n');
    expect((map.entries[0]?.doc.value as { spec: { build: unknown } }).spec.build).toEqual({ context: 'stack', args: { FROM_ENV: 'x' } });
    const none = parse('      context: .\n      args: [UNSET]\n');
    expect((none.entries[0]?.doc.value as { spec: { build: unknown } }).spec.build).toEqual({ context: 'stack' });
  });

  it("reports berth's checks at the compose line of the arg or target", () => {
    const r = parse('      context: .\n      args:\n        "BAD NAME": x\n      target: "-x"\n');
    expect(r.issues.map(formatIssue)).toEqual([
      'stack/compose.yaml:6:9: spec.build.args["BAD NAME"]: must be a build argument name (no "=" and no white space)',
      'stack/compose.yaml:7:15: spec.build.target: must be a build stage name: letters, digits, ".", "_" and "-", starting with a letter or digit',
    ]);
  });

  it('refuses the other build keys at their key', () => {
    for (const key of ['ssh: [default]', 'secrets: [s]', 'cache_from: [a]', 'platforms: [linux/arm64]', 'network: host']) {
      const r = parse(`      context: .\n      ${key}\n`);
      expect(r.issues.map(formatIssue).join('\n')).toMatch(new RegExp(`^stack/compose\\.yaml:5:7: services\\.web\\.build\\.${key.split(':')[0]}: compose field services\\.web\\.build\\.${key.split(':')[0]} is not supported by berth`, 'm'));
    }
  });

  it('args and target are in the content hash of the image: changing one changes the tag, and so the replicas', async () => {
    const tag = async (build: string) => {
      // The context is a directory of its own: the compose file, which differs between the cases, is not in it.
      const files = { 'stack/compose.yaml': `services:\n  web:\n    build:\n${build}`, 'stack/app/Dockerfile': DOCKERFILE };
      const desired = await loadDesired(memorySnapshot(files, 'r1'), { instance: 't', path: '' });
      const svc = desired.services[0]!;
      return { ref: svc.image.ref, specHash: svc.specHash, image: svc.image };
    };
    const plain = await tag('      context: ./app\n');
    const hello = await tag('      context: ./app\n      args: { GREETING: hello, A: b }\n');
    const reordered = await tag('      context: ./app\n      args: { A: b, GREETING: hello }\n');
    const other = await tag('      context: ./app\n      args: { GREETING: bye, A: b }\n');
    const target = await tag('      context: ./app\n      args: { GREETING: hello, A: b }\n      target: base\n');
    expect(new Set([plain.ref, hello.ref, other.ref, target.ref]).size).toBe(4);
    expect(reordered.ref).toBe(hello.ref);
    expect(other.specHash).not.toBe(hello.specHash);
    expect(target.image).toMatchObject({ type: 'build', args: { GREETING: 'hello', A: 'b' }, target: 'base' });
    expect(plain.image).not.toHaveProperty('args');
  });
});
