import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ValidationError, formatWarning } from '../model/errors.ts';
import type { ManifestIssue } from '../model/errors.ts';
import type { DesiredState } from '../model/state.ts';
import { memorySnapshot } from '../source/memory-source.ts';
import { containerSpec, replicaSecurity } from '../diff/container-spec.ts';
import { loadDesired } from './load.ts';

const service = (securityContext?: string): string => [
  'apiVersion: berth/v1', 'kind: Service', 'metadata: { name: web, namespace: hard }', 'spec:',
  '  image: berth-local/busybox:1', '  command: [sleep, "3600"]', ...(securityContext === undefined ? [] : [`  securityContext:${securityContext}`]), '',
].join('\n');

async function load(yaml: string, isolation?: 'worker'): Promise<DesiredState | ManifestIssue[]> {
  try {
    return await loadDesired(memorySnapshot({ 'web.yaml': yaml }, 'r1'), { instance: 'i', path: '', ...(isolation ? { isolation } : {}) });
  } catch (err) {
    if (err instanceof ValidationError) return err.issues;
    throw err;
  }
}

const located = (issues: DesiredState | ManifestIssue[]): [string, string, number, string][] =>
  (issues as ManifestIssue[]).map((i) => [i.code, i.file, i.line, i.field]);

describe('spec.securityContext', () => {
  it('is absent from the typed spec unless written; its fields default to unprivileged, nothing added, escalation as privileged', async () => {
    expect(((await load(service())) as DesiredState).services[0]?.spec.securityContext).toBeUndefined();
    expect(((await load(service(' {}'))) as DesiredState).services[0]?.spec.securityContext).toEqual({ privileged: false, capAdd: [], capDrop: [], allowPrivilegeEscalation: false });
    const privileged = (await load(service(' { privileged: true }'))) as DesiredState;
    expect(privileged.services[0]?.spec.securityContext).toEqual({ privileged: true, capAdd: [], capDrop: [], allowPrivilegeEscalation: true });
  });

  it('accepts capability names without CAP_ and ALL in capDrop only, at file:line of the item', async () => {
    expect(located(await load(service('\n    capAdd: [NET_RAW, CAP_NET_ADMIN]')))).toEqual([['E_SCHEMA', 'web.yaml', 8, 'spec.securityContext.capAdd[1]']]);
    expect(located(await load(service('\n    capAdd: [ALL]')))).toEqual([['E_SCHEMA', 'web.yaml', 8, 'spec.securityContext.capAdd[0]']]);
    expect(located(await load(service('\n    capDrop: [ALL, BPF]')))).toEqual([['E_SCHEMA', 'web.yaml', 8, 'spec.securityContext.capDrop[1]']]);
    expect(located(await load(service('\n    readOnlyRootFilesystem: true')))).toMatchObject([['E_SCHEMA', 'web.yaml', 8, expect.stringContaining('readOnlyRootFilesystem')]]);
    expect(await load(service('\n    capAdd: [SYS_PTRACE]\n    capDrop: [ALL]'))).toHaveProperty('services');
  });

  it('refuses a capability both added and dropped, and privileged without escalation, at the field', async () => {
    const both = await load(service('\n    capAdd: [NET_ADMIN, SYS_TIME]\n    capDrop: [SYS_TIME]'));
    expect(located(both)).toEqual([['E_SEMANTIC', 'web.yaml', 8, 'spec.securityContext.capAdd[1]']]);
    expect((both as ManifestIssue[])[0]?.message).toContain('spec.securityContext.capDrop[0]');
    const escalation = await load(service('\n    privileged: true\n    allowPrivilegeEscalation: false'));
    expect(located(escalation)).toEqual([['E_SEMANTIC', 'web.yaml', 9, 'spec.securityContext.allowPrivilegeEscalation']]);
  });

  it('warns about privileged: true at its line without rejecting the revision, in process and from the worker', async () => {
    for (const isolation of [undefined, 'worker'] as const) {
      const desired = (await load(service('\n    privileged: true'), isolation)) as DesiredState;
      expect(desired.services).toHaveLength(1);
      expect(desired.warnings?.map(formatWarning)).toEqual([
        'web.yaml:8: warning: Service hard/web runs privileged: every capability and every host device, enough to take over the Docker host (spec.securityContext.privileged)',
      ]);
    }
    expect(((await load(service(' { privileged: false }'))) as DesiredState).warnings).toBeUndefined();
    expect(((await load(service())) as DesiredState).warnings).toBeUndefined();
  });

  it('keeps the schema enums of capAdd and capDrop equal but for ALL, without the capabilities dockerd 20.10 refuses', () => {
    type Defs = Record<string, { enum: string[] }>;
    const defs = (JSON.parse(readFileSync(new URL('../../schemas/service.schema.json', import.meta.url), 'utf8')) as { definitions: Defs }).definitions;
    expect(defs.capabilityOrAll?.enum).toEqual(['ALL', ...(defs.capability?.enum ?? [])]);
    expect(defs.capability?.enum).toEqual(expect.arrayContaining(['NET_RAW', 'SYS_ADMIN', 'NET_BIND_SERVICE', 'AUDIT_READ']));
    for (const refused of ['BPF', 'PERFMON', 'CHECKPOINT_RESTORE', 'ALL']) expect(defs.capability?.enum).not.toContain(refused);
  });
});

describe('replicaSecurity', () => {
  const sc = (over: Partial<{ privileged: boolean; capAdd: string[]; capDrop: string[]; allowPrivilegeEscalation: boolean }>) => ({
    privileged: false, capAdd: [], capDrop: [], allowPrivilegeEscalation: false, ...over,
  });

  it('defaults: no-new-privileges, NET_RAW dropped, not privileged', () => {
    expect(replicaSecurity(undefined)).toEqual({ privileged: false, noNewPrivileges: true, capAdd: [], capDrop: ['NET_RAW'] });
    expect(replicaSecurity(sc({}))).toEqual(replicaSecurity(undefined));
  });

  it('capAdd takes a capability out of the default drop; capDrop adds to it; ALL replaces it', () => {
    expect(replicaSecurity(sc({ capAdd: ['NET_RAW'] }))).toEqual({ privileged: false, noNewPrivileges: true, capAdd: ['NET_RAW'], capDrop: [] });
    expect(replicaSecurity(sc({ capDrop: ['MKNOD', 'NET_RAW'] })).capDrop).toEqual(['NET_RAW', 'MKNOD']);
    expect(replicaSecurity(sc({ capDrop: ['ALL'], capAdd: ['NET_BIND_SERVICE'] }))).toMatchObject({ capAdd: ['NET_BIND_SERVICE'], capDrop: ['ALL'] });
  });

  it('allowPrivilegeEscalation lifts no-new-privileges; privileged only when asked, without capability lists', () => {
    expect(replicaSecurity(sc({ allowPrivilegeEscalation: true })).noNewPrivileges).toBe(false);
    expect(replicaSecurity(sc({ privileged: true, allowPrivilegeEscalation: true, capAdd: ['NET_ADMIN'] }))).toEqual({ privileged: true, noNewPrivileges: false, capAdd: [], capDrop: [] });
  });

  it('is part of every replica create request', async () => {
    const desired = (await load(service())) as DesiredState;
    expect(containerSpec('i', 'r1', desired.services[0]!, 1).security).toEqual({ privileged: false, noNewPrivileges: true, capAdd: [], capDrop: ['NET_RAW'] });
  });
});
