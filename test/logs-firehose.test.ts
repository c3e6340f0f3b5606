/**
 * The log collector against hostile output on the real engine: a container printing as fast as it can (`yes` with a
 * long line), one printing 4 MiB of binary with no newline, and one printing 1 MiB lines. The collector's queue stays
 * within its bound (streams paused, the engine keeps the rest), lines are cut at LINE_MAX and marked, binary becomes
 * text, and the store stays within --log-max-size once pruned. Containers are the test's own (label), removed after.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDockerRuntime } from '../operator/runtime/docker.ts';
import { Logs } from '../operator/logs/service.ts';
import { LINE_MAX } from '../operator/logs/parse.ts';
import { silentLogger } from '../operator/util/log.ts';
import { TEST_IMAGE, testDocker, uniqueInstance, waitFor } from './helpers/docker.ts';
import type { ObservedContainer } from '../operator/model/state.ts';

const docker = testDocker();
const runtime = createDockerRuntime(docker);
const instance = uniqueInstance('firehose');
let dir: string;
const ids: string[] = [];

async function start(name: string, script: string): Promise<ObservedContainer> {
  const c = await docker.createContainer({
    Image: TEST_IMAGE, name: `${instance}-${name}`, Cmd: ['sh', '-c', script],
    Labels: { 'berth.managed': 'true', 'berth.instance': instance, 'berth.namespace': 'test', 'berth.service': name, 'berth.replica': '1', 'berth.kind': 'Service' },
  });
  ids.push(c.id);
  await c.start();
  const info = await c.inspect();
  return { id: c.id, name: info.Name.slice(1), labels: info.Config.Labels, status: 'running', exitCode: 0, imageId: info.Image, command: [], env: {}, restartPolicy: 'no', nanoCpus: 0, memory: 0, createdAt: info.Created, node: 'local' } as unknown as ObservedContainer;
}

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-firehose-'));
});

afterAll(async () => {
  await Promise.all(ids.map((id) => docker.getContainer(id).remove({ force: true }).catch(() => undefined)));
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('the log collector under a firehose', () => {
  it('keeps its queue bounded, cuts long lines, stores binary as text, and the store within its size once pruned', async () => {
    const maxQueueBytes = 2 * 1024 * 1024;
    const maxBytes = 16 * 1024 * 1024;
    const logs = new Logs({ stateDir: dir, instance, runtime, log: silentLogger, redact: (t) => t, retentionMs: 86_400_000, maxBytes, maxQueueBytes });
    try {
      // Hostile shapes first: 1 MiB lines, binary without a newline.
      const shapes = await Promise.all([
        start('binary', 'head -c 4194304 /dev/urandom; exec sleep 3600'),
        start('wide', `i=0; while [ $i -lt 8 ]; do i=$((i+1)); head -c 1048576 /dev/zero | tr '\\0' w; echo; done; exec sleep 3600`),
      ]);
      const observe = (containers: ObservedContainer[]) => logs.afterPass({ observed: { containers, volumes: [], networks: [], images: [] }, applied: null, error: null, revision: null } as never);
      observe(shapes);
      await waitFor(() => {
        const store = logs.openStore()!;
        return store.query({ service: 'wide' }).length === 8 && store.query({ service: 'binary' }).length >= 1;
      }, { what: 'the wide and binary lines stored', timeoutMs: 60_000, intervalMs: 100 });
      const store = logs.openStore()!;
      const wide = store.query({ service: 'wide' });
      expect(wide.map((l) => l.text.length)).toEqual(Array(8).fill(LINE_MAX + ` [berth: line cut at ${LINE_MAX} bytes, ${1048576 - LINE_MAX} more dropped]`.length));
      const binary = store.query({ service: 'binary' });
      // eslint-disable-next-line no-control-regex
      expect(binary.every((l) => Buffer.byteLength(l.text) <= LINE_MAX * 3 + 100 && !/[\u0000-\u0008]/.test(l.text))).toBe(true);

      // Then a firehose: 400 MB of 200-byte lines as fast as the engine takes them.
      const fast = await start('fast', `yes "$(head -c 200 /dev/zero | tr '\\0' x)" | head -c 400000000; exec sleep 3600`);
      observe([...shapes, fast]);
      let maxQueued = 0;
      let sawPause = false;
      const heapBefore = process.memoryUsage().heapUsed;
      let heapMax = heapBefore;
      let storeMax = 0;
      await waitFor(() => {
        const r = logs.report();
        maxQueued = Math.max(maxQueued, r.queuedLines);
        sawPause ||= r.paused;
        heapMax = Math.max(heapMax, process.memoryUsage().heapUsed);
        storeMax = Math.max(storeMax, store.stats().bytes);
        return r.ingested > 300_000;
      }, { what: '300,000 firehose lines stored', timeoutMs: 90_000, intervalMs: 100 });
      // The queue: bounded by its bytes (about 232 bytes a line here), paused while the store caught up.
      expect(maxQueued * 232).toBeLessThan(maxQueueBytes + 512 * 1024);
      expect(heapMax - heapBefore).toBeLessThan(256 * 1024 * 1024);
      // Pruned as it filled: never more than the bound and a flush over it.
      expect(storeMax).toBeLessThan(maxBytes + 8 * 1024 * 1024);
      logs.prune();
      expect(store.stats().bytes).toBeLessThanOrEqual(maxBytes);
      console.info(`firehose: paused ${sawPause}, max queued lines ${maxQueued}, heap growth ${Math.round((heapMax - heapBefore) / 2 ** 20)} MiB, store at most ${Math.round(storeMax / 2 ** 20)} MiB, now ${Math.round(store.stats().bytes / 2 ** 20)} MiB`);
    } finally {
      await logs.stop();
    }
  }, 150_000);
});
