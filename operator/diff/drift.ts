/** Compares what the engine reports for one container with what the spec asks for. Pure. */
import { LABELS } from '../model/keys.ts';
import { runRef, type DesiredService, type ObservedContainer } from '../model/state.ts';
import { dockerRestartPolicy, nanoCpus } from './container-spec.ts';

export interface Drift {
  /** Differences that need a new container (image, command, env, labels, network). */
  replace: string[];
  /** Differences `docker update` can fix in place (memory, cpu, restart policy). */
  update: string[];
}

/** Differences between container `c` and replica `replica` of `svc`; `imageId` is what the spec's image reference resolves to now. */
export function containerDrift(instance: string, svc: DesiredService, replica: number, c: ObservedContainer, imageId: string | undefined): Drift {
  const replace: string[] = [];
  const update: string[] = [];
  if (imageId && c.imageId !== imageId) replace.push(`image ${runRef(svc.image)} now resolves to ${short(imageId)}, container runs ${short(c.imageId)}`);
  if (svc.spec.command && !sameList(c.command, svc.spec.command)) replace.push(`command is ${JSON.stringify(c.command)}, spec says ${JSON.stringify(svc.spec.command)}`);
  for (const [k, v] of Object.entries(svc.env)) {
    if (c.env[k] !== v) replace.push(c.env[k] === undefined ? `env ${k} missing` : `env ${k} differs`);
  }
  const detached = networkDrift(svc, c);
  if (detached) replace.push(detached);
  const expected: Record<string, string> = {
    ...svc.labels,
    [LABELS.managed]: 'true', [LABELS.instance]: instance, [LABELS.namespace]: svc.namespace,
    [LABELS.service]: svc.name, [LABELS.replica]: String(replica), [LABELS.specHash]: svc.specHash,
  };
  for (const [k, v] of Object.entries(expected)) {
    if (c.labels[k] !== v) replace.push(`label ${k} is ${JSON.stringify(c.labels[k] ?? null)}, spec says ${JSON.stringify(v)}`);
  }
  // Docker cannot lift a limit in place (`docker update` ignores 0): going back to unlimited needs a new container.
  const mem = svc.spec.resources.memory ?? 0;
  if (c.memory !== mem) (mem ? update : replace).push(`memory limit is ${c.memory || 'unlimited'}, spec says ${mem || 'unlimited'}`);
  const cpu = nanoCpus(svc.spec.resources.cpu) ?? 0;
  if (c.nanoCpus !== cpu) (cpu ? update : replace).push(`cpu limit is ${c.nanoCpus / 1e9 || 'unlimited'}, spec says ${cpu / 1e9 || 'unlimited'}`);
  // Privileges (no-new-privileges, capabilities, privileged) are not compared: a replica created before berth set them
  // must not count as drift, and a change of spec.securityContext moves the spec hash (checked above) anyway.
  const rp = dockerRestartPolicy(svc.spec.restart.policy);
  if (normalizeRestart(c.restartPolicy) !== rp) update.push(`restart policy is ${c.restartPolicy || 'no'}, spec says ${rp}`);
  return { replace, update };
}

/**
 * A running replica that is not attached to one of its service's networks (someone disconnected it by hand) cannot be
 * reached by name there: it is replaced (a new replica joins all of them with its aliases), as for every drift of its shape.
 */
function networkDrift(svc: DesiredService, c: ObservedContainer): string | undefined {
  if (c.status !== 'running' || c.networks === undefined) return undefined;
  const attached = c.networks;
  const missing = (svc.networks?.map((n) => n.name) ?? [svc.network]).filter((n) => !attached.includes(n));
  if (missing.length === 0) return undefined;
  const on = attached.length ? `attached to ${attached.join(', ')}` : 'attached to no network';
  return `not attached to network ${missing.join(', ')} (${on}), so ${svc.name} does not resolve to it`;
}

/** Why a container of an older spec gets replaced: a short summary of what changed. */
export function specChangeReason(svc: DesiredService, old: ObservedContainer): string {
  const changes: string[] = [];
  const oldDigest = old.labels[LABELS.imageDigest];
  const digest = svc.image.type === 'ref' ? svc.image.digest : undefined;
  if (digest && oldDigest && old.labels[LABELS.image] === svc.image.ref) {
    if (oldDigest !== digest) changes.push(`image ${svc.image.ref} now ${shortDigest(digest)} was ${shortDigest(oldDigest)}`);
  } else if (old.image && old.image !== runRef(svc.image)) changes.push(`image ${old.labels[LABELS.image] ?? old.image} -> ${svc.image.ref}${digest ? ` (${shortDigest(digest)})` : ''}`);
  if (svc.spec.command && !sameList(old.command, svc.spec.command)) changes.push('command changed');
  const envChanged = Object.keys(svc.env).filter((k) => old.env[k] !== svc.env[k]);
  if (envChanged.length) changes.push(`env ${envChanged.join(', ')} changed`);
  const wanted = svc.networks?.map((n) => n.name) ?? [svc.network];
  if (old.networks && !wanted.every((n) => old.networks?.includes(n))) changes.push(`network ${old.networks.join(', ') || 'none'} -> ${wanted.join(', ')}`);
  const mem = svc.spec.resources.memory ?? 0;
  if (old.memory !== mem) changes.push(`memory ${old.memory || 'unlimited'} -> ${mem || 'unlimited'}`);
  const cpu = nanoCpus(svc.spec.resources.cpu) ?? 0;
  if (old.nanoCpus !== cpu) changes.push(`cpu ${old.nanoCpus / 1e9 || 'unlimited'} -> ${cpu / 1e9 || 'unlimited'}`);
  const labels = Object.keys(svc.labels).filter((k) => old.labels[k] !== svc.labels[k]);
  if (labels.length) changes.push(`labels ${labels.join(', ')} changed`);
  const oldHash = old.labels[LABELS.specHash] ?? '?';
  // Ports, volumes and probes are not all readable back from the engine: the hash still tells that they moved.
  return `spec changed (${changes.length ? changes.join('; ') : `ports, volumes or probes: spec-hash ${oldHash} -> ${svc.specHash}`})`;
}

/** `sha256:ab12cd34ef56...`: enough of a digest to tell two apart in a reason. */
export function shortDigest(digest: string): string {
  return `${digest.slice(0, digest.indexOf(':') + 13)}...`;
}

/** Whether berth should start a container that is not running, per the restart policy. */
export function shouldRestart(svc: DesiredService, c: ObservedContainer): boolean {
  if (c.status === 'created') return true;
  const policy = svc.spec.restart.policy;
  if (policy === 'never') return false;
  if (policy === 'on-failure') return c.exitCode !== 0;
  return true;
}

function normalizeRestart(name: string): string {
  return name === '' ? 'no' : name;
}

function sameList(a: string[], b: string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

function short(id: string): string {
  return id.replace(/^sha256:/, '').slice(0, 12);
}
