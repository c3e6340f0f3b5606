import { afterEach, describe, expect, it } from 'vitest';
import { BerthError } from '../model/errors.ts';
import type { GcRuntime, RemoveOutcome } from './gc.ts';
import { createLogger, type Level, type Logger } from '../util/log.ts';
import type { DiskUsage, GcInventory } from './gc.ts';
import { resolvePolicy, startGc, validateSchedule, type GcHandle, type GcOptions } from './gc-runner.ts';

const INSTANCE = 'prod';
const ours = (service: string): Record<string, string> => ({
  'berth.managed': 'true', 'berth.instance': INSTANCE, 'berth.namespace': 'shop', 'berth.service': service,
});

/** An in-memory GcRuntime: removals succeed unless the id is in `inUse` or `failing`. */
class FakeGcRuntime implements GcRuntime {
  disk: DiskUsage | Error = { usedBytes: 10, totalBytes: 100 };
  removed: string[] = [];
  inUse = new Set<string>();
  failing = new Set<string>();
  inventories = 0;
  diskChecks = 0;
  active = 0;
  maxActive = 0;
  gate: Promise<void> | undefined;
  inventoryError: Error | undefined;
  constructor(public inv: GcInventory) {}

  async inventory(instance: string, repositories?: readonly string[]): Promise<GcInventory> {
    this.inventories += 1;
    this.repositoriesAsked.push(repositories);
    this.active += 1;
    this.maxActive = Math.max(this.maxActive, this.active);
    try {
      await this.gate;
      if (this.inventoryError) throw this.inventoryError;
      const disk = this.disk instanceof Error ? undefined : this.disk;
      return { ...structuredClone(this.inv), instance, ...(disk ? { disk } : {}) };
    } finally {
      this.active -= 1;
    }
  }
  async removeContainer(id: string): Promise<RemoveOutcome> { return this.remove(id); }
  async removeImage(id: string): Promise<RemoveOutcome> { return this.remove(id); }
  /** Refs in `others` keep their image (untagged); otherwise as remove(ref). */
  others = new Set<string>();
  repositoriesAsked: (readonly string[] | undefined)[] = [];
  async untagImage(ref: string): Promise<RemoveOutcome> {
    if (this.others.has(ref) && !this.inUse.has(ref) && !this.failing.has(ref)) {
      this.removed.push(ref);
      return 'untagged';
    }
    return this.remove(ref);
  }
  async diskUsage(): Promise<DiskUsage> {
    this.diskChecks += 1;
    if (this.disk instanceof Error) throw this.disk;
    return this.disk;
  }
  private remove(id: string): RemoveOutcome {
    if (this.failing.has(id)) throw new BerthError('E_DOCKER', `engine said no to ${id}`);
    if (this.inUse.has(id)) return 'in-use';
    if (this.removed.includes(id)) return 'gone';
    this.removed.push(id);
    return 'removed';
  }
}

interface Entry { level: Level; msg: string; fields: Record<string, unknown> }

function capture(): { log: Logger; entries: Entry[] } {
  const entries: Entry[] = [];
  const log = createLogger({ level: 'debug', json: true, write: (line) => {
    const { level, msg, time: _time, ...fields } = JSON.parse(line) as { level: Level; msg: string; time: string };
    entries.push({ level, msg, fields });
  } });
  return { log, entries };
}

function inventory(): GcInventory {
  const exited = (id: string, minute: number) => ({ id, name: `n-${id}`, labels: ours('web'), state: 'exited' as const, finishedAt: `2024-05-01T10:0${minute}:00Z` });
  return {
    instance: INSTANCE,
    containers: [exited('c1', 1), exited('c2', 2), exited('c3', 3), exited('c4', 4), { ...exited('r', 5), state: 'running' }],
    images: [1, 2, 3, 4, 5].map((n) => ({ id: `i${n}`, tags: [`berth.local/shop/web:${n}`], labels: ours('web'), created: n, inUse: false })),
    pulled: [],
    dangling: [{ id: 'd1', created: 1, labels: ours('web'), inUse: false }],
  };
}

async function until(cond: () => boolean, what: string, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

let handle: GcHandle | undefined;
afterEach(() => handle?.stop());

function start(rt: FakeGcRuntime, log: Logger, extra: Partial<Pick<GcOptions, 'diskCheckMs' | 'policy' | 'pulledRepositories'>> = {}): GcHandle {
  handle = startGc({ runtime: rt, instance: INSTANCE, log, schedule: '0 0 1 1 *', ...extra });
  return handle;
}

describe('startGc: configuration', () => {
  it('rejects a bad cron expression with E_CONFIG and a clear message', () => {
    expect(() => validateSchedule('*/10 * * *')).toThrow(expect.objectContaining({ code: 'E_CONFIG', message: expect.stringContaining('*/10 * * *') }));
    expect(() => startGc({ runtime: new FakeGcRuntime(inventory()), instance: INSTANCE, log: capture().log, schedule: 'every ten minutes' }))
      .toThrow(expect.objectContaining({ code: 'E_CONFIG' }));
    expect(validateSchedule(' */10 * * * * ')).toBe('*/10 * * * *');
  });

  it('rejects bad policies and disk intervals with E_CONFIG', () => {
    expect(resolvePolicy()).toEqual({ exitedHistory: 2, keepImages: 3, highMark: 0.85, lowMark: 0.8, pressure: false });
    for (const bad of [{ exitedHistory: -1 }, { keepImages: 1.5 }, { lowMark: 0.9, highMark: 0.8 }, { highMark: 1.2 }, { lowMark: 0 }]) {
      expect(() => resolvePolicy(bad)).toThrow(expect.objectContaining({ code: 'E_CONFIG' }));
    }
    expect(() => start(new FakeGcRuntime(inventory()), capture().log, { diskCheckMs: 0 })).toThrow(expect.objectContaining({ code: 'E_CONFIG' }));
  });
});

describe('startGc: runOnce', () => {
  it('removes what planGc decided and logs every removal with its reason', async () => {
    const rt = new FakeGcRuntime(inventory());
    const { log, entries } = capture();
    const report = await start(rt, log).runOnce('test');
    expect(rt.removed).toEqual(['c2', 'c1', 'i2', 'i1', 'd1']);
    expect(report).toMatchObject({ trigger: 'test', pressure: false, skipped: [] });
    expect(report.removedContainers.map((r) => [r.id, r.name])).toEqual([['c2', 'n-c2'], ['c1', 'n-c1']]);
    expect(report.removedImages.map((r) => [r.id, r.name])).toEqual([['i2', 'berth.local/shop/web:2'], ['i1', 'berth.local/shop/web:1'], ['d1', '']]);
    const removals = entries.filter((e) => e.level === 'info' && typeof e.fields.reason === 'string');
    expect(removals.map((e) => e.fields.id)).toEqual(['c2', 'c1', 'i2', 'i1', 'd1']);
  });

  it('skips an image in use (warning) and a failing removal (error) without throwing', async () => {
    const rt = new FakeGcRuntime(inventory());
    rt.inUse.add('i2');
    rt.failing.add('c1');
    const { log, entries } = capture();
    const report = await start(rt, log).runOnce('test');
    expect(rt.removed).toEqual(['c2', 'i1', 'd1']);
    expect(report.skipped).toEqual([
      { id: 'c1', kind: 'remove-container', reason: 'error: engine said no to c1' },
      { id: 'i2', kind: 'remove-image', reason: 'in use' },
    ]);
    expect(entries.find((e) => e.level === 'warn' && e.fields.id === 'i2')).toBeDefined();
    expect(entries.find((e) => e.level === 'error' && e.fields.id === 'c1')?.fields.code).toBe('E_DOCKER');
  });

  it('never overlaps runs: concurrent requests wait and share one follow-up run', async () => {
    const rt = new FakeGcRuntime(inventory());
    let open: () => void = () => undefined;
    rt.gate = new Promise((resolve) => { open = resolve; });
    const gc = start(rt, capture().log);
    const first = gc.runOnce('a');
    const second = gc.runOnce('b');
    const third = gc.runOnce('c');
    expect(third).toBe(second);
    open();
    const reports = await Promise.all([first, second, third]);
    expect(reports.map((r) => r.trigger)).toEqual(['a', 'b', 'b']);
    expect(rt.maxActive).toBe(1);
    expect(rt.inventories).toBe(2);
    expect(reports[1]?.removedContainers).toEqual([]);
  });

  it('rejects when the inventory fails, and the next run works', async () => {
    const rt = new FakeGcRuntime(inventory());
    rt.inventoryError = new BerthError('E_DOCKER', 'engine down');
    const gc = start(rt, capture().log);
    await expect(gc.runOnce('test')).rejects.toMatchObject({ code: 'E_DOCKER' });
    rt.inventoryError = undefined;
    expect((await gc.runOnce('again')).removedContainers).toHaveLength(2);
  });
});

describe('startGc: pulled images', () => {
  const REG = 'reg.example:5000/shop/web';
  const ref = (n: number): string => `${REG}@sha256:${String(n).repeat(64)}`;
  const withPulled = (): GcInventory => ({
    ...inventory(), containers: [], images: [], dangling: [],
    pulled: [1, 2, 3, 4, 5].map((n) => ({ id: `p${n}`, repository: REG, digestRefs: n === 1 ? [ref(1), ref(9)] : [ref(n)], created: n, inUse: false })),
  });

  it('asks the inventory for the managed repositories (normalised) and removes old pulled images by their references', async () => {
    const rt = new FakeGcRuntime(withPulled());
    const { log, entries } = capture();
    const repos = new Map([['shop/web', { repository: `${REG}`, digests: [] }], ['shop/proxy', { repository: 'nginx' }]]);
    const report = await start(rt, log, { pulledRepositories: () => repos }).runOnce('test');
    expect(rt.repositoriesAsked).toEqual([['docker.io/library/nginx', REG]]);
    expect(rt.removed).toEqual([ref(2), ref(1), ref(9)]);
    expect(report.removedImages.map((r) => [r.id, r.name])).toEqual([['p2', ref(2)], ['p1', `${ref(1)},${ref(9)}`]]);
    expect(entries.filter((e) => e.msg === 'gc removed image').map((e) => e.fields.id)).toEqual(['p2', 'p1']);
  });

  it('without pulledRepositories asks for none and removes no pulled image', async () => {
    const rt = new FakeGcRuntime(withPulled());
    const report = await start(rt, capture().log).runOnce('test');
    expect(rt.repositoriesAsked).toEqual([[]]);
    expect(report.removedImages).toEqual([]);
  });

  it('records a refused reference as in use (the remaining refs untouched) and one other names keep as untagged', async () => {
    const rt = new FakeGcRuntime(withPulled());
    rt.inUse.add(ref(1));
    rt.others.add(ref(2));
    const { log, entries } = capture();
    const report = await start(rt, log, { pulledRepositories: () => new Map([['shop/web', { repository: REG }]]) }).runOnce('test');
    expect(rt.removed).toEqual([ref(2)]);
    expect(report.skipped).toEqual([{ id: 'p1', kind: 'remove-image', reason: 'in use' }]);
    expect(report.removedImages).toEqual([expect.objectContaining({ id: 'p2', name: ref(2), untagged: true })]);
    expect(entries.find((e) => e.msg === 'gc untagged image')?.fields.reason).toContain('other references keep the image');
  });

  it('a throwing pulledRepositories leaves pulled images alone with a warning, and the run goes on', async () => {
    const rt = new FakeGcRuntime({ ...withPulled(), dangling: inventory().dangling });
    const { log, entries } = capture();
    const report = await start(rt, log, { pulledRepositories: () => { throw new Error('not ready'); } }).runOnce('test');
    expect(rt.removed).toEqual(['d1']);
    expect(report.removedImages.map((r) => r.id)).toEqual(['d1']);
    expect(entries.find((e) => e.level === 'warn' && e.msg.includes('pulled repositories'))).toBeDefined();
  });
});

describe('startGc: disk pressure', () => {
  it('runs on the disk timer above highMark with pressure policy, until usage is below lowMark', async () => {
    const rt = new FakeGcRuntime(inventory());
    rt.disk = { usedBytes: 90, totalBytes: 100 };
    const { log, entries } = capture();
    start(rt, log, { diskCheckMs: 10 });
    await until(() => rt.removed.length === 9, 'a disk pressure run');
    expect(rt.removed).toEqual(['c4', 'c3', 'c2', 'c1', 'i4', 'i3', 'i2', 'i1', 'd1']);
    expect(entries.find((e) => e.msg === 'gc removed image')?.fields.reason).toContain('disk pressure');
    rt.disk = { usedBytes: 82, totalBytes: 100 }; // between the marks: pressure lasts
    const runs = rt.inventories;
    await until(() => rt.inventories > runs + 1, 'runs while between the marks');
    rt.disk = { usedBytes: 50, totalBytes: 100 };
    await until(() => entries.some((e) => e.msg === 'gc disk pressure over'), 'pressure to end');
    const after = rt.inventories;
    const checks = rt.diskChecks;
    await until(() => rt.diskChecks > checks + 3, 'more disk checks');
    expect(rt.inventories).toBeLessThanOrEqual(after + 1);
  });

  it('logs a failing disk check once as a warning and never throws out of the timer', async () => {
    const rt = new FakeGcRuntime(inventory());
    rt.disk = new BerthError('E_DOCKER', 'statfs failed');
    const { log, entries } = capture();
    start(rt, log, { diskCheckMs: 5 });
    await until(() => rt.diskChecks >= 4, 'several disk checks');
    expect(entries.filter((e) => e.msg === 'gc disk check failed' && e.level === 'warn')).toHaveLength(1);
    expect(rt.inventories).toBe(0);
  });

  it('stop() ends the disk timer', async () => {
    const rt = new FakeGcRuntime(inventory());
    const gc = start(rt, capture().log, { diskCheckMs: 5 });
    await until(() => rt.diskChecks >= 2, 'disk checks');
    gc.stop();
    const checks = rt.diskChecks;
    await new Promise((r) => setTimeout(r, 50)); // a window in which a live timer would have fired ~10 times
    expect(rt.diskChecks).toBeLessThanOrEqual(checks + 1);
  });
});
