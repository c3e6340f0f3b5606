/** 50 compose stacks of 6 services convert without an issue (timed by bench/compose.ts, goal under 300 ms a revision). */
import { describe, expect, it } from 'vitest';
import { parseEntries } from '../manifests/parse.ts';
import { composeRepo } from '../../test/helpers/compose-stacks.ts';

describe('loading compose stacks', () => {
  it('parses 50 stacks x 6 services into 300 Services and 300 Volumes', () => {
    const r = parseEntries(composeRepo());
    expect(r.issues).toEqual([]);
    expect(r.entries).toHaveLength(50 * 12);
    expect(r.entries.filter((e) => e.kind === 'Service')).toHaveLength(300);
  });
});
