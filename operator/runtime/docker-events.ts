/** subscribe(): the engine's event stream for one instance, parsed robustly, reconnected with backoff. */
import { StringDecoder } from 'node:string_decoder';
import type Dockerode from 'dockerode';
import type { RuntimeEvent } from './runtime.ts';
import { instanceFilters } from './docker-observe.ts';

export const RECONNECT_MIN_MS = 250;
export const RECONNECT_MAX_MS = 5_000;
/** A stream that stayed up this long resets the backoff. */
const STABLE_MS = 5_000;

/** Attributes Docker (and Podman: containerExitCode, podId) add to a container event next to the container's labels. */
const NON_LABEL_ATTRIBUTES = new Set(['image', 'name', 'exitCode', 'signal', 'execDuration', 'execID', 'containerExitCode', 'podId']);

/** Podman's names of container events that Docker names otherwise. */
const DOCKER_ACTION: Record<string, string> = { remove: 'destroy' };

/** Returns a function fed with raw chunks that calls `onLine` with each complete, non-empty line (chunks may split or join lines). */
export function createLineSplitter(onLine: (line: string) => void): (chunk: Buffer | string) => void {
  const decoder = new StringDecoder('utf8');
  let pending = '';
  return (chunk) => {
    pending += typeof chunk === 'string' ? chunk : decoder.write(chunk);
    let at = pending.indexOf('\n');
    while (at >= 0) {
      const line = pending.slice(0, at).trim();
      pending = pending.slice(at + 1);
      if (line !== '') onLine(line);
      at = pending.indexOf('\n');
    }
  };
}

interface RawEvent {
  Type?: unknown;
  Action?: unknown;
  status?: unknown;
  id?: unknown;
  Actor?: { ID?: unknown; Attributes?: unknown };
}

/** The action of a raw Docker event without its suffix (`health_status: healthy` -> `health_status`). */
export function eventAction(raw: RawEvent): string {
  const action = typeof raw.Action === 'string' ? raw.Action : typeof raw.status === 'string' ? raw.status : '';
  const colon = action.indexOf(':');
  const bare = (colon < 0 ? action : action.slice(0, colon)).trim();
  return DOCKER_ACTION[bare] ?? bare;
}

/** A raw container event as a RuntimeEvent; undefined for exec_* events, non-container events and garbage. */
export function toRuntimeEvent(raw: unknown): RuntimeEvent | undefined {
  if (typeof raw !== 'object' || raw === null) return undefined;
  const event = raw as RawEvent;
  if (event.Type !== undefined && event.Type !== 'container') return undefined;
  const action = eventAction(event);
  if (action === '' || action.startsWith('exec_')) return undefined;
  const id = typeof event.Actor?.ID === 'string' ? event.Actor.ID : typeof event.id === 'string' ? event.id : '';
  if (id === '') return undefined;
  return { action, containerId: id, labels: labelsOf(event.Actor?.Attributes) };
}

function labelsOf(attributes: unknown): Record<string, string> {
  const labels: Record<string, string> = {};
  if (typeof attributes !== 'object' || attributes === null) return labels;
  for (const [key, value] of Object.entries(attributes)) {
    if (!NON_LABEL_ATTRIBUTES.has(key) && typeof value === 'string') labels[key] = value;
  }
  return labels;
}

/** What a subscription tells its owner besides the events themselves. */
export interface SubscriptionHooks {
  onEvent: (e: RuntimeEvent) => void;
  onReconnect?: () => void;
  /** The stream is up: from now on every event arrives. */
  onConnected: () => void;
  /** The stream is down (or closed): events may be lost. */
  onDisconnected: () => void;
  /** Any event line for a container id, exec events included. */
  onRawEvent?: (id: string, action: string) => void;
}

interface Stream extends NodeJS.ReadableStream {
  destroy?: () => void;
}

/** Follows the event stream of `instance` until the returned function is called; never throws. */
export function followEvents(docker: Dockerode, instance: string, hooks: SubscriptionHooks, catchUp = false): () => void {
  const follower = new EventFollower(docker, instance, hooks, catchUp);
  follower.connect();
  return () => follower.close();
}

class EventFollower {
  private closed = false;
  private stream: Stream | undefined;
  private timer: NodeJS.Timeout | undefined;
  private delay = RECONNECT_MIN_MS;
  /** True once a connection failed or broke: the next successful connection calls onReconnect. */
  private gap = false;

  /** `catchUp`: the first connection counts as after a gap too (events before it were not watched). */
  constructor(private readonly docker: Dockerode, private readonly instance: string, private readonly hooks: SubscriptionHooks, catchUp: boolean) {
    this.gap = catchUp;
  }

  connect(): void {
    this.timer = undefined;
    const filters = { type: ['container' as const], ...instanceFilters(this.instance) };
    this.docker.getEvents({ filters }).then((s: Stream) => this.connected(s), () => this.retry());
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    const s = this.stream;
    this.stream = undefined;
    if (!s) return;
    this.hooks.onDisconnected();
    s.destroy?.();
  }

  private connected(s: Stream): void {
    if (this.closed) {
      s.destroy?.();
      return;
    }
    this.stream = s;
    this.attach(s);
    this.hooks.onConnected();
    if (this.gap) this.hooks.onReconnect?.();
    this.gap = false;
  }

  private attach(s: Stream): void {
    const since = Date.now();
    let down = false;
    const lost = (): void => {
      if (down || this.closed) return;
      down = true;
      this.stream = undefined;
      this.hooks.onDisconnected();
      if (Date.now() - since >= STABLE_MS) this.delay = RECONNECT_MIN_MS;
      this.retry();
    };
    s.on('data', createLineSplitter((line) => deliver(line, this.hooks)));
    s.on('error', lost);
    s.on('end', lost);
    s.on('close', lost);
  }

  private retry(): void {
    if (this.closed) return;
    this.gap = true;
    this.timer = setTimeout(() => this.connect(), this.delay);
    this.delay = Math.min(this.delay * 2, RECONNECT_MAX_MS);
  }
}

function deliver(line: string, hooks: SubscriptionHooks): void {
  let raw: unknown;
  try {
    raw = JSON.parse(line);
  } catch {
    return; // not an event; the stream goes on
  }
  const r = raw as RawEvent;
  const id = typeof r?.Actor?.ID === 'string' ? r.Actor.ID : typeof r?.id === 'string' ? r.id : undefined;
  if (id && (r.Type === undefined || r.Type === 'container')) hooks.onRawEvent?.(id, eventAction(r));
  const event = toRuntimeEvent(raw);
  if (!event) return;
  try {
    hooks.onEvent(event);
  } catch (err) {
    process.emitWarning(`berth: an event handler threw: ${err instanceof Error ? err.message : String(err)}`);
  }
}
