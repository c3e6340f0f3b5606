/**
 * One budget of client connections shared by every listener of the operator (the API server, each proxy and Route
 * port), so that no flood of connections can take the descriptors the operator needs for its own work (engine, git,
 * probes). Each listener gets a gate: a connection is admitted while the listener, its client address and the shared
 * budget have room, else it is closed at once (before any byte is read or any upstream is dialled). A listener may keep
 * a reserve that the others cannot take (the API server's, so /healthz answers while the proxies are full).
 */
import type net from 'node:net';
import { ClientSlots, clientAddress } from './client-slots.ts';

/** Which limit refused a connection: the shared budget, the listener's own bound, or the client's share of it. */
export type ConnectionRefusal = 'total' | 'listener' | 'client';

export interface ConnectionGuardOptions {
  /** Client connections all listeners may hold together. */
  maxConnections: number;
  /** Connections one client address may hold on one listener. */
  maxPerClient: number;
  /** Hears every refused connection (for a throttled log line or a counter); must not throw. */
  onRefuse?: (listener: string, reason: ConnectionRefusal) => void;
}

export interface GateOptions {
  /** Connections kept for this listener that the other listeners cannot take; default 0. */
  reserve?: number;
  /** At most this many connections on this listener; default (and at most) the shared maxConnections. */
  max?: number;
}

export interface GateStats {
  name: string;
  open: number;
  max: number;
  reserve: number;
  refused: Record<ConnectionRefusal, number>;
}

export interface GuardStats {
  max: number;
  open: number;
  listeners: GateStats[];
}

export interface ConnectionGate {
  readonly name: string;
  /** Counts `socket` until it closes; when a limit is reached, destroys it and answers false. */
  admit(socket: net.Socket): boolean;
  /** Guards `server`: every connection it accepts goes through `admit` before the server's own handlers see it. */
  protect(server: net.Server): void;
  /** This listener's counters. */
  stats(): GateStats;
  /** The listener closed: its reserve goes back to the others (its open sockets are released as they close). */
  dispose(): void;
}

class Gate implements ConnectionGate {
  readonly slots: ClientSlots;
  readonly refused: Record<ConnectionRefusal, number> = { total: 0, listener: 0, client: 0 };

  constructor(readonly name: string, readonly reserve: number, max: number, perClient: number, private readonly guard: ConnectionGuard) {
    this.slots = new ClientSlots(max, perClient);
  }

  admit(socket: net.Socket): boolean {
    const client = clientAddress(socket);
    const refusal = this.guard.take(this, client);
    if (refusal) {
      this.refused[refusal]++;
      this.guard.options.onRefuse?.(this.name, refusal);
      socket.destroy();
      return false;
    }
    socket.once('close', () => this.guard.give(this, client));
    return true;
  }

  protect(server: net.Server): void {
    server.prependListener('connection', (socket: net.Socket) => { this.admit(socket); });
  }

  stats(): GateStats {
    return { name: this.name, open: this.slots.inUse, max: this.slots.total, reserve: this.reserve, refused: { ...this.refused } };
  }

  dispose(): void {
    this.guard.forget(this);
  }
}

export class ConnectionGuard {
  private open = 0;
  private readonly gates = new Set<Gate>();

  constructor(readonly options: ConnectionGuardOptions) {}

  /** A gate for one listener (`name` shows in stats and logs). */
  gate(name: string, opts: GateOptions = {}): ConnectionGate {
    const max = Math.min(opts.max ?? this.options.maxConnections, this.options.maxConnections);
    const gate = new Gate(name, Math.min(opts.reserve ?? 0, max), max, this.options.maxPerClient, this);
    this.gates.add(gate);
    return gate;
  }

  /** The shared budget and every live listener's counters. */
  stats(): GuardStats {
    return { max: this.options.maxConnections, open: this.open, listeners: [...this.gates].map((g) => g.stats()) };
  }

  /** @internal Takes a slot of `gate` for `client`, or says which limit refuses it. */
  take(gate: Gate, client: string): ConnectionRefusal | null {
    if (this.open + 1 + this.reservedForOthers(gate) > this.options.maxConnections) return 'total';
    const refusal = gate.slots.acquire(client);
    if (refusal) return refusal === 'full' ? 'listener' : 'client';
    this.open++;
    return null;
  }

  /** @internal Gives back a slot taken by `take`. */
  give(gate: Gate, client: string): void {
    gate.slots.release(client);
    this.open--;
  }

  /** @internal */
  forget(gate: Gate): void {
    this.gates.delete(gate);
  }

  /** What the other live listeners keep and do not use yet. */
  private reservedForOthers(gate: Gate): number {
    let n = 0;
    for (const g of this.gates) if (g !== gate) n += Math.max(0, g.reserve - g.slots.inUse);
    return n;
  }
}
