/**
 * Golden fixtures: test/fixtures/manifests/<case>/input is a repository, case.json (optional) holds load options,
 * expected.json holds either the desired state ({ services, volumes, networks, routes, nodes }), the issues ({ issues: ["CODE file:line:col: ..."] })
 * or a BerthError code ({ error }). Regenerate after a deliberate change with UPDATE_GOLDEN=1 and review the diff.
 */
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { BerthError, ValidationError, formatIssue } from '../model/errors.ts';
import { fsSnapshot } from '../source/fs-snapshot.ts';
import { loadDesired } from './load.ts';

const ROOT = new URL('../../test/fixtures/manifests/', import.meta.url);
const cases = readdirSync(ROOT).filter((name) => existsSync(new URL(`${name}/input`, ROOT))).sort();

interface Outcome {
  services?: unknown;
  volumes?: unknown;
  networks?: unknown;
  routes?: unknown;
  nodes?: unknown;
  issues?: string[];
  error?: string;
}

async function run(name: string): Promise<Outcome> {
  const caseFile = new URL(`${name}/case.json`, ROOT);
  const opts = existsSync(caseFile) ? (JSON.parse(readFileSync(caseFile, 'utf8')) as { path?: string }) : {};
  const snapshot = fsSnapshot(new URL(`${name}/input`, ROOT).pathname, 'golden');
  try {
    const desired = await loadDesired(snapshot, { instance: 'test', path: opts.path ?? '' });
    const { services, volumes, networks, routes, nodes } = desired;
    return JSON.parse(JSON.stringify({ services, volumes, networks, routes, nodes })) as Outcome;
  } catch (err) {
    if (err instanceof ValidationError) return { issues: err.issues.map((i) => `${i.code} ${formatIssue(i)}`) };
    if (err instanceof BerthError) return { error: err.code };
    throw err;
  }
}

describe('manifests golden fixtures', () => {
  it('has cases', () => {
    expect(cases.length).toBeGreaterThan(10);
  });
  for (const name of cases) {
    it(name, async () => {
      const actual = await run(name);
      const expectedFile = new URL(`${name}/expected.json`, ROOT);
      if (process.env.UPDATE_GOLDEN === '1') writeFileSync(expectedFile, `${JSON.stringify(actual, null, 2)}\n`);
      expect(actual).toEqual(JSON.parse(readFileSync(expectedFile, 'utf8')));
    });
  }
});
