import { describe, expect, it } from 'vitest';
import { ValidationError, type ManifestIssue } from '../model/errors.ts';
import type { DesiredState } from '../model/state.ts';
import { memorySnapshot } from '../source/memory-source.ts';
import { specHash } from './spec-hash.ts';
import { loadDesired } from './load.ts';

const service = (extra: string[]): string => [
  'apiVersion: berth/v1', 'kind: Service', 'metadata: { name: app, namespace: cs }', 'spec:',
  '  image: berth-local/busybox:1', ...extra, '',
].join('\n');

async function load(yaml: string): Promise<DesiredState | ManifestIssue[]> {
  try {
    return await loadDesired(memorySnapshot({ 'app.yaml': yaml }, 'r1'), { instance: 'i', path: '' });
  } catch (err) {
    if (err instanceof ValidationError) return err.issues;
    throw err;
  }
}
const issues = async (extra: string[]): Promise<string[]> => ((await load(service(extra))) as ManifestIssue[]).map((i) => `${i.line} ${i.field}: ${i.message}`);

describe('container settings of a Service', () => {
  it('types what is written and nothing else, and keeps the spec hash of a service without them', async () => {
    const plain = (await load(service([]))) as DesiredState;
    expect(plain.services[0]?.spec.container).toBeUndefined();
    const set = (await load(service(['  user: app', '  readOnly: true', '  tmpfs: [{ path: /run, size: 1Mi }]', '  ulimits: { nofile: 1024 }', '  stopSignal: INT', '  stopGracePeriod: 30s']))) as DesiredState;
    expect(set.services[0]?.spec.container).toEqual({ user: 'app', readOnly: true, tmpfs: [{ path: '/run', sizeBytes: 1_048_576 }], ulimits: { nofile: { soft: 1024, hard: 1024 } }, stopSignal: 'SIGINT', stopGracePeriodMs: 30_000 });
    expect(set.services[0]?.specHash).not.toBe(plain.services[0]?.specHash);
    const { container: _, ...rest } = set.services[0]!.spec;
    expect(specHash({ instance: 'i', namespace: 'cs', labels: {}, spec: rest, image: plain.services[0]!.image, env: {}, network: plain.services[0]!.network })).toBe(plain.services[0]?.specHash);
  });

  it('refuses what the engine or kernel would, at the field', async () => {
    expect(await issues(['  user: "root; rm"'])).toEqual([expect.stringMatching(/^6 spec\.user: /)]);
    expect(await issues(['  tmpfs: [{ path: run }]'])).toEqual([expect.stringMatching(/^6 spec\.tmpfs\[0\]\.path: /)]);
    expect(await issues(['  ulimits: { nofile: { soft: 2048, hard: 1024 } }'])).toEqual(['6 spec.ulimits.nofile: soft limit 2048 is above the hard limit 1024']);
    expect(await issues(['  ulimits: { files: 10 }'])).toEqual([expect.stringMatching(/^6 spec\.ulimits/)]);
    expect(await issues(['  sysctls: { kernel.panic: "1" }'])).toEqual([expect.stringMatching(/^6 spec\.sysctls/)]);
    expect(await issues(['  extraHosts: ["db:999.1.1.1"]'])).toEqual(['6 spec.extraHosts[0]: "999.1.1.1" is not an IP address (host:ip, or host:host-gateway)']);
    expect(await issues(['  stopGracePeriod: 2h'])).toEqual(['6 spec.stopGracePeriod: must be at most 1h, got 2h']);
    expect(await issues(['  securityOpt: ["no-new-privileges:false"]'])).toEqual([expect.stringMatching(/^6 spec\.securityOpt\[0\]: /)]);
    expect(await issues(['  workingDir: /w', '  tmpfs: [{ path: /w, mode: "1777" }]'])).toEqual([expect.stringMatching(/^6 spec\.workingDir: is the tmpfs of spec\.tmpfs\[0\]: the engine resets its mode/)]);
    expect(await issues(['  volumes: [{ volume: data, mountPath: /data }]', '  tmpfs: [{ path: /data }]', '---', 'apiVersion: berth/v1', 'kind: Volume', 'metadata: { name: data, namespace: cs }'])).toEqual([expect.stringMatching(/^7 spec\.tmpfs\[0\]\.path: \/data is also mounted by spec\.volumes\[0\]\.mountPath/)]);
  });

  it('warns about seccomp=unconfined without refusing it', async () => {
    const d = (await load(service(['  securityOpt: ["seccomp=unconfined"]']))) as DesiredState;
    expect(d.warnings?.map((w) => `${w.line} ${w.field}: ${w.message}`)).toEqual(['6 spec.securityOpt[0]: Service cs/app runs without a seccomp filter: every system call reaches the host kernel']);
  });
});
