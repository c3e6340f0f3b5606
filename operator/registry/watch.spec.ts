import { EventEmitter } from 'node:events';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { describe, expect, it } from 'vitest';
import { Registry } from './registry.ts';
import { MAX_WATCH_BACKLOG_BYTES, startWatch } from './watch.ts';

/** A response whose client never reads: everything written stays in its backlog. */
function stalledResponse() {
  const res = Object.assign(new EventEmitter(), {
    writableLength: 0, destroyed: false, writes: 0,
    writeHead() { return res; },
    write(text: string) { res.writableLength += Buffer.byteLength(text); res.writes++; return false; },
    destroy() { res.destroyed = true; res.emit('close'); },
  });
  return res;
}

describe('startWatch', () => {
  it('cuts off a watcher that does not read, and unsubscribes it', () => {
    const registry = new Registry({ now: () => 0 });
    const res = stalledResponse();
    const req = { socket: new EventEmitter() } as unknown as IncomingMessage;
    startWatch(registry, req, res as unknown as ServerResponse, { heartbeatMs: 60_000 });
    expect(registry.stats().subscribers).toBe(1);
    for (let i = 0; i < 5_000 && !res.destroyed; i++) registry.setReplicas('shop/web', [{ id: `r${i}`, service: 'shop/web', node: 'local', address: '10.0.0.2', port: 80, weight: 1, ready: true, source: 'replica', metadata: {} }]);
    expect(res.destroyed).toBe(true);
    expect(res.writableLength).toBeLessThan(MAX_WATCH_BACKLOG_BYTES + 200);
    expect(registry.stats().subscribers).toBe(0);
  });
});
