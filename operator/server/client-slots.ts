/**
 * Counting admission (pure): at most `total` holders at once, at most `perClient` of them for one client address.
 * The building block of every bound on the operator's HTTP surface and proxies: connections per listener, SSE
 * watchers, blocking queries, request bodies being read. Nothing is kept for a client that holds no slot, so the
 * per-client map never outgrows the slots in use.
 */

/** Why a slot was refused: every slot is taken, or this client holds its share. */
export type SlotRefusal = 'full' | 'client-full';

export class ClientSlots {
  private used = 0;
  private readonly byClient = new Map<string, number>();

  /** `total` and `perClient` are at least 0 (0 refuses everything). */
  constructor(readonly total: number, readonly perClient: number) {}

  /** Takes a slot for `client`; the refusal (nothing taken) when a limit is reached. */
  acquire(client: string): SlotRefusal | null {
    if (this.used >= this.total) return 'full';
    const held = this.byClient.get(client) ?? 0;
    if (held >= this.perClient) return 'client-full';
    this.used++;
    this.byClient.set(client, held + 1);
    return null;
  }

  /** Gives back a slot `client` holds (a release without a slot is ignored). */
  release(client: string): void {
    const held = this.byClient.get(client);
    if (held === undefined) return;
    this.used--;
    if (held > 1) this.byClient.set(client, held - 1);
    else this.byClient.delete(client);
  }

  /** Slots taken now. */
  get inUse(): number {
    return this.used;
  }

  /** Slots `client` holds now. */
  heldBy(client: string): number {
    return this.byClient.get(client) ?? 0;
  }

  /** Client addresses holding at least one slot. */
  get clients(): number {
    return this.byClient.size;
  }
}

/** The client address of a socket (`unknown` once it is gone); IPv4-mapped IPv6 addresses are shown as IPv4. */
export function clientAddress(socket: { remoteAddress?: string | undefined }): string {
  const a = socket.remoteAddress;
  if (!a) return 'unknown';
  return a.startsWith('::ffff:') && a.includes('.') ? a.slice(7) : a;
}
