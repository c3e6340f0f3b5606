/**
 * Server-Sent Events, both ends, pure (no Node or DOM API: the CLI and the dashboard's bundle use the same reader).
 * `takeEvents` splits what has arrived into complete events and the rest; `eventText` writes one event.
 */
export interface SseEvent {
  type: string;
  data: string;
}

/** The complete events at the start of `buffer` (blank-line terminated), and what is left for the next chunk. */
export function takeEvents(buffer: string): { events: SseEvent[]; rest: string } {
  const events: SseEvent[] = [];
  let rest = buffer;
  let end: number;
  while ((end = rest.indexOf('\n\n')) >= 0) {
    const block = rest.slice(0, end);
    rest = rest.slice(end + 2);
    let type = 'message';
    const data: string[] = [];
    for (const line of block.split('\n')) {
      if (line.startsWith('event: ')) type = line.slice(7);
      else if (line.startsWith('data: ')) data.push(line.slice(6));
    }
    if (data.length) events.push({ type, data: data.join('\n') });
  }
  return { events, rest };
}

/** One event as the stream carries it (data on one line: JSON has no raw newline). */
export function eventText(type: string, data: string, id?: number): string {
  return `event: ${type}\n${id !== undefined ? `id: ${id}\n` : ''}data: ${data}\n\n`;
}
