import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadOptions } from '../operator/commands/shared.ts';
import { loadDesired } from '../operator/manifests/index.ts';
import { flagsWith } from '../operator/settings/flags.ts';
import { settingsFor } from '../operator/settings/settings.ts';
import { memorySnapshot } from '../operator/source/memory-source.ts';

describe('compose settings reach the load', () => {
  it('loadOptions reads --compose-env at every load and passes --compose-profiles; the worker thread gets both', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'berth-compose-env-'));
    const file = join(dir, 'host.env');
    writeFileSync(file, 'TAG=1\n');
    const s = settingsFor('validate', flagsWith('validate', { 'compose-env': file, 'compose-profiles': 'tools' }));
    expect(loadOptions(s.manifests, 'validate')).toMatchObject({ composeEnv: { TAG: '1' }, composeProfiles: ['tools'] });
    writeFileSync(file, 'TAG=2\n');
    const opts = loadOptions(s.manifests, 'validate');
    expect(opts.composeEnv).toEqual({ TAG: '2' });
    const snap = memorySnapshot({
      's/compose.yaml': 'services:\n  web: { image: "web:${TAG}", env_file: [web.env] }\n  tool: { image: t, profiles: [tools] }\n',
      's/web.env': 'A=${TAG}\n',
    }, 'r1');
    for (const isolation of ['auto', 'worker'] as const) {
      const desired = await loadDesired(snap, { ...opts, isolation });
      expect(desired.services.map((x) => [x.name, x.spec.image, x.spec.env])).toEqual([['tool', 't', {}], ['web', 'web:2', { A: '2' }]].sort());
    }
  });
});
