import { describe, expect, it } from 'vitest';
import { eventText, takeEvents } from './sse.ts';

describe('takeEvents', () => {
  it('splits complete events, keeps the partial rest, skips comments', () => {
    const text = `: ping\n\n${eventText('line', '{"a":1}', 7)}${eventText('status', '{}')}event: line\ndata: {"b"`;
    const { events, rest } = takeEvents(text);
    expect(events).toEqual([{ type: 'line', data: '{"a":1}' }, { type: 'status', data: '{}' }]);
    expect(rest).toBe('event: line\ndata: {"b"');
    expect(takeEvents(`${rest}:2}\n\n`).events).toEqual([{ type: 'line', data: '{"b":2}' }]);
  });
});
