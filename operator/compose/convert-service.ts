/**
 * One compose service -> the spec and labels of a berth Service, with `docker compose up` semantics. Every field of
 * the service is either mapped, refused as "not supported yet" (berth will have it), or refused as "not supported by
 * berth": never dropped silently. Each handler gets the service's (interpolated, schema-valid) value of its field.
 */
import { posix } from 'node:path';
import type { PathSegment } from '../manifests/yaml-source.ts';
import { isObj } from '../manifests/raw.ts';
import type { Obj } from '../manifests/raw.ts';
import { fromRoot, listOrDict } from './context.ts';
import type { ServiceContext } from './context.ts';
import { convertDeploy, convertHealthcheck, convertRestart } from './convert-deploy.ts';
import { convertPorts } from './convert-ports.ts';
import { convertServiceSecrets } from './convert-secrets.ts';
import { convertServiceNetworks } from './convert-networks.ts';
import { convertServiceConfigs } from './convert-configs.ts';
import { convertServiceVolumes, convertTmpfs } from './convert-volumes.ts';
import { shellSplit } from './shell-split.ts';
import { envFileVars } from './env-file.ts';
import { composeBool, composeDuration, composeInt } from './units.ts';
import { COMPLETED } from './convert-job.ts';

type Handler = (ctx: ServiceContext, v: unknown, svc: Obj) => void;

/** Fields berth will support in a later task: the message's subject and a hint. */
const NOT_YET: Record<string, [string, string?]> = {
};

const PULL_POLICIES: Record<string, string> = { always: 'Always', never: 'Never', missing: 'IfNotPresent', if_not_present: 'IfNotPresent' };

const HANDLERS: Record<string, Handler> = {
  image: (ctx, v, svc) => {
    if (svc.build !== undefined) return ctx.notYet(['image'], 'image together with build is', 'berth tags the images it builds itself: drop image');
    ctx.set(['image'], v, ['image']);
  },
  build: build,
  command: (ctx, v) => words(ctx, 'command', v),
  entrypoint: (ctx, v) => words(ctx, 'entrypoint', v),
  environment: (ctx, v) => {
    ctx.mapTo(['env'], ['environment']);
    // over the env_file variables (convertService reads env_file first)
    const env: Obj = isObj(ctx.spec.env) ? ctx.spec.env : {};
    for (const e of listOrDict(v)) {
      // `A` alone (or `A:` with no value) takes A from the interpolation variables; absent there, it is left out.
      const value = e.value ?? ctx.project.env[e.key];
      if (value === undefined) continue;
      env[e.key] = value;
      ctx.mapTo(['env', e.key], ['environment', e.seg]);
    }
    ctx.spec.env = env;
  },
  ports: (ctx, v, svc) => convertPorts(ctx, v, svc.expose),
  expose: (ctx, v, svc) => {
    if (svc.ports === undefined) convertPorts(ctx, undefined, v);
  },
  volumes: convertServiceVolumes,
  secrets: convertServiceSecrets,
  configs: (ctx, v) => convertServiceConfigs(ctx, v, ctx.project.configs ?? new Map()),
  tmpfs: convertTmpfs,
  depends_on: dependsOn,
  healthcheck: convertHealthcheck,
  restart: convertRestart,
  deploy: convertDeploy,
  labels: (ctx, v) => {
    for (const e of listOrDict(v)) {
      ctx.labels[e.key] = e.value ?? '';
      ctx.map.add(['metadata', 'labels', e.key], ctx.at(['labels', e.seg]));
    }
  },
  user: (ctx, v) => ctx.set(['user'], String(v), ['user']),
  working_dir: (ctx, v) => ctx.set(['workingDir'], v, ['working_dir']),
  // berth's check refuses it with more than 1 replica (deploy.replicas / scale), as compose does, at this line
  container_name: (ctx, v) => ctx.set(['containerName'], v, ['container_name']),
  hostname: (ctx, v) => ctx.set(['hostname'], v, ['hostname']),
  stdin_open: (ctx, v) => ctx.set(['stdinOpen'], composeBool(v) ?? v, ['stdin_open']),
  tty: (ctx, v) => ctx.set(['tty'], composeBool(v) ?? v, ['tty']),
  read_only: (ctx, v) => ctx.set(['readOnly'], composeBool(v) ?? v, ['read_only']),
  cap_add: (ctx, v) => capabilities(ctx, 'cap_add', 'capAdd', v),
  cap_drop: (ctx, v) => capabilities(ctx, 'cap_drop', 'capDrop', v),
  privileged: (ctx, v) => ctx.set(['securityContext', 'privileged'], composeBool(v) ?? v, ['privileged']),
  security_opt: securityOpt,
  ulimits: (ctx, v) => {
    if (!isObj(v)) return;
    const out: Obj = {};
    for (const [k, x] of Object.entries(v)) {
      out[k] = isObj(x) ? { soft: composeInt(x.soft) ?? x.soft, hard: composeInt(x.hard) ?? x.hard } : (composeInt(x) ?? x);
      ctx.mapTo(['ulimits', k], ['ulimits', k]);
    }
    ctx.set(['ulimits'], out, ['ulimits']);
  },
  sysctls: (ctx, v) => {
    const out: Obj = {};
    for (const e of listOrDict(v)) {
      out[e.key] = e.value ?? '';
      ctx.mapTo(['sysctls', e.key], ['sysctls', e.seg]);
    }
    ctx.set(['sysctls'], out, ['sysctls']);
  },
  extra_hosts: (ctx, v) => {
    const entries = Array.isArray(v) ? v.map((s, i) => ({ s: String(s), seg: i as PathSegment })) : listOrDict(v).map((e) => ({ s: `${e.key}=${e.value ?? ''}`, seg: e.seg }));
    for (const { s, seg } of entries) {
      const at = /^([^:=]+)[:=](.*)$/.exec(s);
      if (!at) {
        ctx.error(['extra_hosts', seg], 'must be host:ip or host=ip');
        continue;
      }
      ctx.push(['extraHosts'], `${at[1]}:${(at[2] as string).replace(/^\[(.*)\]$/, '$1')}`, ['extra_hosts', seg]);
    }
  },
  init: (ctx, v) => {
    if (composeBool(v) === false) ctx.error(['init'], 'berth always runs an init process in its containers: init: false is not possible');
  },
  stop_grace_period: (ctx, v) => {
    const d = composeDuration(v);
    if (d === undefined) return ctx.error(['stop_grace_period'], 'must be a duration such as 10s or 1m30s');
    ctx.set(['stopGracePeriod'], d, ['stop_grace_period']);
  },
  stop_signal: (ctx, v) => ctx.set(['stopSignal'], v, ['stop_signal']),
  pull_policy: (ctx, v) => {
    const policy = PULL_POLICIES[String(v)];
    if (!policy) return ctx.notYet(['pull_policy'], `pull_policy ${String(v)} is`, 'always, never, missing and if_not_present are');
    ctx.set(['pullPolicy'], policy, ['pull_policy']);
  },
  scale: (ctx, v, svc) => {
    if (isObj(svc.deploy) && svc.deploy.replicas !== undefined) return ctx.error(['scale'], 'set deploy.replicas or scale, not both');
    ctx.set(['replicas'], composeInt(v) ?? v, ['scale']);
  },
  networks: convertServiceNetworks,
  // Compose itself ignores its `x-` extension fields; x-berth is read by convertService, profiles before it.
  profiles: () => undefined,
  env_file: () => undefined,
};

/** Maps every field of `svc` into ctx (spec, labels, problems). */
export function convertService(ctx: ServiceContext, svc: Obj): void {
  if (svc.env_file !== undefined) envFile(ctx, svc.env_file);
  for (const [key, value] of Object.entries(svc)) {
    if (key === 'x-berth' || key.startsWith('x-')) continue;
    const notYet = NOT_YET[key];
    if (notYet) ctx.notYet([key], notYet[0], notYet[1]);
    else if (HANDLERS[key]) (HANDLERS[key] as Handler)(ctx, value, svc);
    else ctx.unsupported([key]);
  }
  if (svc.restart === undefined && !(isObj(svc.deploy) && isObj(svc.deploy.restart_policy))) convertRestart(ctx, undefined);
  // compose's default pull_policy is `missing` (pull only when the node lacks the image), even for :latest, where
  // berth's own default would be Always
  if (svc.pull_policy === undefined && svc.image !== undefined && svc.build === undefined) ctx.set(['pullPolicy'], 'IfNotPresent', ['image']);
  if (svc['x-berth'] !== undefined) xBerth(ctx, svc['x-berth']);
}

/** `env_file`: the files' variables as spec.env, each located at the env_file entry it came from; `environment` goes over them. */
function envFile(ctx: ServiceContext, v: unknown): void {
  const p = ctx.project;
  const { vars, from } = envFileVars(p.file, ctx.base, v, p.envFiles, p.env, p.problems, p.envFileIssues);
  ctx.mapTo(['env'], ['env_file']);
  for (const [k, at] of from) ctx.map.add(['spec', 'env', k], at);
  ctx.spec.env = vars;
}

/** `command` / `entrypoint`: a list as is; a string split with shell rules (compose does not run it with sh -c). */
function words(ctx: ServiceContext, field: 'command' | 'entrypoint', v: unknown): void {
  if (v === null) return;
  if (Array.isArray(v)) return ctx.set([field], v.map(String), [field]);
  const split = shellSplit(String(v));
  if ('error' in split) return ctx.error([field], split.error);
  ctx.set([field], split, [field]);
}

/** `build`: a context directory, or {context, dockerfile}; relative to the compose file's directory, as compose resolves it. */
function build(ctx: ServiceContext, v: unknown): void {
  const b: Obj = typeof v === 'string' ? { context: v } : isObj(v) ? v : {};
  for (const k of Object.keys(b)) {
    if (k !== 'context' && k !== 'dockerfile' && k !== 'args' && k !== 'target' && !k.startsWith('x-')) ctx.unsupported(['build', k]);
  }
  const context = String(b.context ?? '.');
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(context) || context.startsWith('git@')) return ctx.notYet(['build', 'context'], 'a remote build context is');
  if (posix.isAbsolute(context)) return ctx.error(typeof v === 'string' ? ['build'] : ['build', 'context'], 'must be a directory relative to the compose file');
  // berth resolves spec.build.context against the manifests root (--path); compose, against the compose file's directory
  const out: Obj = { context: fromRoot(ctx.project.root, posix.join(posix.dirname(ctx.project.file), context)) };
  if (b.dockerfile !== undefined) out.dockerfile = b.dockerfile;
  // args: `KEY` alone (or `KEY:` with no value) takes KEY from the interpolation variables; absent there, it is left
  // out (the Dockerfile's ARG default applies), as compose does
  const args: Obj = {};
  const argMaps: [string, PathSegment][] = [];
  for (const e of listOrDict(b.args)) {
    const value = e.value ?? ctx.project.env[e.key];
    if (value === undefined) continue;
    args[e.key] = value;
    argMaps.push([e.key, e.seg]);
  }
  if (Object.keys(args).length) out.args = args;
  if (b.target !== undefined) out.target = b.target;
  ctx.set(['build'], out, ['build']);
  if (typeof v !== 'string') {
    ctx.mapTo(['build', 'context'], ['build', 'context']);
    ctx.mapTo(['build', 'dockerfile'], ['build', 'dockerfile']);
    if (b.args !== undefined) ctx.mapTo(['build', 'args'], ['build', 'args']);
    for (const [key, seg] of argMaps) ctx.mapTo(['build', 'args', key], ['build', 'args', seg]);
    if (b.target !== undefined) ctx.mapTo(['build', 'target'], ['build', 'target']);
  }
}

/** `depends_on`: a list, or a map of conditions (service_started, service_healthy, service_completed_successfully). */
function dependsOn(ctx: ServiceContext, v: unknown): void {
  const entries = Array.isArray(v) ? v.map((n, i) => ({ name: String(n), seg: i as PathSegment, opts: {} as Obj })) : isObj(v) ? Object.entries(v).map(([n, o]) => ({ name: n, seg: n as PathSegment, opts: isObj(o) ? o : {} })) : [];
  for (const { name, seg, opts } of entries) {
    const rel: PathSegment[] = ['depends_on', seg];
    // service_started: ordering (a dependency is created first; its address reaches the dependent as
    // <NAME>_SERVICE_HOST/PORT). service_healthy: also holds the dependent's new replicas until every replica of the
    // dependency is ready (its healthcheck is its readiness probe). service_completed_successfully: the dependency is
    // a berth Job (convert-job.ts), and dependsOn naming it holds the dependent's rollout until its run succeeded.
    if (opts.restart !== undefined && composeBool(opts.restart)) ctx.notYet([...rel, 'restart'], 'depends_on.restart is');
    if (opts.required !== undefined && composeBool(opts.required) === false) ctx.notYet([...rel, 'required'], 'required: false is');
    const job = ctx.project.jobs?.get(name);
    if (job !== undefined && opts.condition === 'service_healthy') {
      ctx.error([...rel, 'condition'], `${name} runs to completion (${job} depends on it with condition ${COMPLETED}, so it is a berth Job): it has no healthcheck to pass; use condition ${COMPLETED}`);
      continue;
    }
    if (job !== undefined && opts.condition !== COMPLETED) {
      ctx.project.problems.push({ path: ctx.at(rel), message: `${name} runs to completion (${job} depends on it with condition ${COMPLETED}, so it is a berth Job): ${ctx.name} is started only once it exited 0, as with ${COMPLETED}, not as soon as it started`, severity: 'warning' });
    }
    ctx.push(['dependsOn'], opts.condition === 'service_healthy' ? { service: name, condition: 'healthy' } : name, rel);
  }
}

function capabilities(ctx: ServiceContext, field: string, berth: string, v: unknown): void {
  if (!Array.isArray(v)) return;
  v.forEach((cap, i) => ctx.push(['securityContext', berth], String(cap).toUpperCase().replace(/^CAP_/, ''), [field, i]));
  ctx.mapTo(['securityContext'], [field]);
}

/** no-new-privileges[:true|false] -> securityContext.allowPrivilegeEscalation; apparmor/seccomp/label -> spec.securityOpt (key=value). */
function securityOpt(ctx: ServiceContext, v: unknown): void {
  if (!Array.isArray(v)) return;
  v.forEach((raw, i) => {
    const opt = String(raw);
    const nnp = /^no-new-privileges(?:[:=](true|false))?$/.exec(opt);
    if (nnp) return ctx.set(['securityContext', 'allowPrivilegeEscalation'], nnp[1] === 'false', ['security_opt', i]);
    ctx.push(['securityOpt'], opt.replace(/^(apparmor|seccomp|label):/, '$1='), ['security_opt', i]);
  });
}

const X_BERTH_FIELDS = ['health', 'loadBalancer', 'placement', 'autoscale'];

/** `x-berth: { health, loadBalancer, placement }`, berth's own syntax, merged over what the compose fields gave. */
function xBerth(ctx: ServiceContext, v: unknown): void {
  if (!isObj(v)) return ctx.error(['x-berth'], 'must be a mapping with health, loadBalancer, placement or autoscale');
  for (const [key, x] of Object.entries(v)) {
    if (!X_BERTH_FIELDS.includes(key)) {
      ctx.error(['x-berth', key], `unknown x-berth field (allowed: ${X_BERTH_FIELDS.join(', ')})`, 'key');
      continue;
    }
    if (!isObj(x)) {
      ctx.set([key], x, ['x-berth', key]);
      continue;
    }
    const generated = isObj(ctx.spec[key]) ? (ctx.spec[key] as Obj) : undefined;
    const merged: Obj = { ...generated };
    for (const [k, val] of Object.entries(x)) {
      merged[k] = val;
      ctx.mapTo([key, k], ['x-berth', key, k]);
    }
    ctx.spec[key] = merged;
    // Wholly from x-berth: the field itself is located there (else at the compose field it was made from).
    if (!generated) ctx.mapTo([key], ['x-berth', key]);
  }
}
