/** Runs garbage collection on a cron schedule and under disk pressure: inventory -> planGc (pure) -> removals, never overlapping. */
import cron from 'node-cron';
import { asBerthError, BerthError } from '../model/errors.ts';
import type { Logger } from '../util/log.ts';
import {
  DEFAULT_GC_POLICY, diskPressure, planGc, pulledRepositories, type GcDecision, type GcPolicy, type GcRuntime, type PulledRepository,
  type PulledService, type RemoveOutcome,
} from './gc.ts';

export const DEFAULT_GC_SCHEDULE = '*/10 * * * *';
export const DEFAULT_DISK_CHECK_MS = 60_000;

/** One object GC removed. */
export interface GcRemoval {
  id: string;
  /** Container name, or the image's tags (a pulled image: the references removed) joined by ','; '' for a dangling image. */
  name: string;
  reason: string;
  /** A pulled image whose references in the managed repository were removed while other references keep the image. */
  untagged?: true;
}

/** One planned removal that did not happen. */
export interface GcSkip {
  id: string;
  kind: GcDecision['kind'];
  /** `in use`, `already gone`, or `error: <message>`. */
  reason: string;
}

/** The outcome of one GC run. */
export interface GcReport {
  /** What started the run (`schedule`, `disk pressure`, or the caller's reason). */
  trigger: string;
  pressure: boolean;
  removedContainers: GcRemoval[];
  removedImages: GcRemoval[];
  /** Drop of the data root's used bytes across the run (best effort: 0 when unmeasurable; other writers blur it). */
  freedBytes: number;
  skipped: GcSkip[];
}

/** Options of startGc. */
export interface GcOptions {
  runtime: GcRuntime;
  instance: string;
  log: Logger;
  /** Cron expression (5 or 6 fields), default every 10 minutes. */
  schedule?: string;
  policy?: Partial<GcPolicy>;
  /** How often disk usage is checked; above highMark GC runs on every check until usage is below lowMark. Default 60 s. */
  diskCheckMs?: number;
  /** Containers GC must keep even when exited: the current replicas berth restarts (with backoff) or keeps on purpose. */
  protect?: (containerId: string) => boolean;
  /**
   * The Services whose images berth pulls in the desired state in force (service key `ns/name` -> repository and
   * pinned digests), read at the start of every run: their older pulled images are collected like built images.
   * Absent or empty: pulled images are never touched.
   */
  pulledRepositories?: () => ReadonlyMap<string, PulledService>;
}

/** A started GC loop. */
export interface GcHandle {
  /** Runs GC now, or right after the run in progress (requests arriving meanwhile share one run); rejects if the inventory fails. */
  runOnce(reason: string): Promise<GcReport>;
  /** Stops the schedule and the disk timer; a run in progress finishes. */
  stop(): void;
}

/** Validates the options (BerthError E_CONFIG), then starts the cron task and the disk-pressure timer. */
export function startGc(opts: GcOptions): GcHandle {
  const schedule = validateSchedule(opts.schedule ?? DEFAULT_GC_SCHEDULE);
  const policy = resolvePolicy(opts.policy);
  const diskCheckMs = opts.diskCheckMs ?? DEFAULT_DISK_CHECK_MS;
  if (!Number.isFinite(diskCheckMs) || diskCheckMs <= 0) throw new BerthError('E_CONFIG', `GC disk check interval must be a positive number of ms, got ${diskCheckMs}`);
  const { runtime, instance, log } = opts;
  const state = { pressure: false, diskWarned: false, stopped: false };
  const setPressure = (next: boolean): boolean => {
    if (next !== state.pressure) log[next ? 'warn' : 'info'](next ? 'gc disk pressure: collecting aggressively' : 'gc disk pressure over', { instance });
    state.pressure = next;
    return next;
  };
  const protect = opts.protect ?? (() => false);
  const pulled = (): PulledRepository[] => {
    try {
      return pulledRepositories(opts.pulledRepositories?.() ?? new Map());
    } catch (err) {
      log.warn('gc cannot read the pulled repositories; pulled images are left alone this run', { instance, error: asBerthError(err).message });
      return [];
    }
  };
  const serial = serialize((trigger) => runGc({ runtime, instance, log, policy, trigger, pressure: state.pressure, setPressure, protect, pulled: pulled() }));
  const background = (trigger: string): Promise<void> => serial(trigger).then(
    () => undefined,
    (err: unknown) => log.error('gc run failed', { instance, trigger, code: asBerthError(err).code, error: asBerthError(err).message }),
  );
  const task = cron.schedule(schedule, () => background('schedule'), { name: `berth-gc-${instance}`, noOverlap: true, logger: cronLogger(log) });
  const diskTick = async (): Promise<void> => {
    try {
      const disk = await runtime.diskUsage();
      state.diskWarned = false;
      if (setPressure(diskPressure(disk, state.pressure, policy))) await background('disk pressure');
    } catch (err) {
      log[state.diskWarned ? 'debug' : 'warn']('gc disk check failed', { instance, error: asBerthError(err).message });
      state.diskWarned = true;
    }
  };
  const timer = setInterval(() => { if (!state.stopped) void diskTick(); }, diskCheckMs);
  timer.unref();
  return {
    runOnce: (reason) => serial(reason),
    stop: () => {
      if (state.stopped) return;
      state.stopped = true;
      clearInterval(timer);
      void task.stop();
      void task.destroy();
    },
  };
}

/** Throws BerthError E_CONFIG naming what is wrong with a cron expression; returns it trimmed. */
export function validateSchedule(expr: string): string {
  const trimmed = expr.trim();
  const result = cron.validateDetailed(trimmed);
  if (result.valid) return trimmed;
  const why = result.errors.map((e) => e.message).join('; ') || 'not a cron expression';
  throw new BerthError('E_CONFIG', `invalid GC schedule "${expr}": ${why} (expected 5 or 6 cron fields, e.g. "${DEFAULT_GC_SCHEDULE}")`);
}

/** Merges `partial` over the defaults; throws BerthError E_CONFIG on negative counts or marks outside 0 < low <= high <= 1. */
export function resolvePolicy(partial: Partial<GcPolicy> = {}): GcPolicy {
  const policy = { ...DEFAULT_GC_POLICY, ...partial };
  for (const key of ['exitedHistory', 'keepImages'] as const) {
    if (!Number.isInteger(policy[key]) || policy[key] < 0) throw new BerthError('E_CONFIG', `GC ${key} must be a non-negative integer, got ${policy[key]}`);
  }
  const { lowMark, highMark } = policy;
  if (!(lowMark > 0 && lowMark <= highMark && highMark <= 1)) {
    throw new BerthError('E_CONFIG', `GC disk marks must satisfy 0 < lowMark <= highMark <= 1, got lowMark=${lowMark} highMark=${highMark}`);
  }
  return policy;
}

/** At most one call of `run` at a time; calls during a run share one follow-up run (started after it, with the first reason). */
function serialize<T>(run: (reason: string) => Promise<T>): (reason: string) => Promise<T> {
  let running: Promise<T> | undefined;
  let pending: Promise<T> | undefined;
  const start = (reason: string): Promise<T> => {
    const current = run(reason).finally(() => { if (running === current) running = undefined; });
    running = current;
    return current;
  };
  return (reason) => {
    if (pending) return pending;
    if (!running) return start(reason);
    const next = running.then(() => undefined, () => undefined).then(() => {
      pending = undefined;
      return start(reason);
    });
    pending = next;
    return next;
  };
}

interface RunContext {
  runtime: GcRuntime;
  instance: string;
  log: Logger;
  policy: GcPolicy;
  trigger: string;
  pressure: boolean;
  setPressure(next: boolean): boolean;
  protect(containerId: string): boolean;
  pulled: PulledRepository[];
}

async function runGc(ctx: RunContext): Promise<GcReport> {
  const { runtime, instance, log, trigger } = ctx;
  const inv = await runtime.inventory(instance, ctx.pulled.map((r) => r.name));
  const pressure = ctx.setPressure(diskPressure(inv.disk, ctx.pressure, ctx.policy));
  const decisions = planGc(inv, { ...ctx.policy, pressure }, ctx.pulled).filter((d) => d.kind !== 'remove-container' || !ctx.protect(d.id));
  const report: GcReport = { trigger, pressure, removedContainers: [], removedImages: [], freedBytes: 0, skipped: [] };
  for (const decision of decisions) await execute(ctx, decision, report); // in order: containers free their images first
  if (inv.disk && decisions.length > 0) {
    const after = await runtime.diskUsage().catch(() => undefined);
    if (after) report.freedBytes = Math.max(0, inv.disk.usedBytes - after.usedBytes);
  }
  const removed = report.removedContainers.length + report.removedImages.length;
  log[removed > 0 || report.skipped.length > 0 ? 'info' : 'debug']('gc run finished', {
    instance, trigger, pressure, containers: report.removedContainers.length, images: report.removedImages.length,
    skipped: report.skipped.length, freedBytes: report.freedBytes,
  });
  return report;
}

async function execute(ctx: RunContext, d: GcDecision, report: GcReport): Promise<void> {
  const { runtime, instance, log, trigger } = ctx;
  const name = d.kind === 'remove-container' ? d.name : d.tags.join(',');
  const what = d.kind === 'remove-container' ? 'container' : 'image';
  let outcome: RemoveOutcome;
  try {
    outcome = d.kind === 'remove-container' ? await runtime.removeContainer(d.id) : d.refs ? await untagAll(runtime, d.refs) : await runtime.removeImage(d.id);
  } catch (err) {
    const e = asBerthError(err);
    log.error(`gc could not remove ${what}`, { instance, trigger, id: d.id, name, reason: d.reason, code: e.code, error: e.message });
    report.skipped.push({ id: d.id, kind: d.kind, reason: `error: ${e.message}` });
    return;
  }
  if (outcome === 'in-use') {
    log.warn(`gc skipped ${what} in use`, { instance, trigger, id: d.id, name, reason: d.reason });
    report.skipped.push({ id: d.id, kind: d.kind, reason: 'in use' });
    return;
  }
  if (outcome === 'gone') {
    log.debug(`gc ${what} already gone`, { instance, trigger, id: d.id, name });
    report.skipped.push({ id: d.id, kind: d.kind, reason: 'already gone' });
    return;
  }
  if (outcome === 'untagged') {
    log.info('gc untagged image', { instance, trigger, id: d.id, name, reason: `${d.reason}; other references keep the image` });
    report.removedImages.push({ id: d.id, name, reason: d.reason, untagged: true });
    return;
  }
  log.info(`gc removed ${what}`, { instance, trigger, id: d.id, name, reason: d.reason });
  (d.kind === 'remove-container' ? report.removedContainers : report.removedImages).push({ id: d.id, name, reason: d.reason });
}

/**
 * Removes the references of a pulled image one by one (the last one takes the image, unless other names keep it):
 * `in-use` at the first refusal (the rest are left), `removed` if the image went, `untagged` if it stays, `gone` if
 * every reference was already gone.
 */
async function untagAll(runtime: GcRuntime, refs: readonly string[]): Promise<RemoveOutcome> {
  let result: RemoveOutcome = 'gone';
  for (const ref of refs) {
    const outcome = await runtime.untagImage(ref);
    if (outcome === 'in-use') return 'in-use';
    if (outcome === 'removed') result = 'removed';
    else if (outcome === 'untagged' && result !== 'removed') result = 'untagged';
  }
  return result;
}

function cronLogger(log: Logger): { info(m: string): void; warn(m: string): void; error(m: string | Error, e?: Error): void; debug(m: string | Error, e?: Error): void } {
  const text = (m: string | Error, e?: Error): string => `${m instanceof Error ? m.message : m}${e ? `: ${e.message}` : ''}`;
  return {
    info: (m) => log.debug(`node-cron: ${m}`),
    warn: (m) => log.warn(`node-cron: ${m}`),
    error: (m, e) => log.error(`node-cron: ${text(m, e)}`),
    debug: (m, e) => log.debug(`node-cron: ${text(m, e)}`),
  };
}
