import { describe, expect, it } from 'vitest';
import { SseParser } from './sse';

describe('SseParser', () => {
  it('reads named events with JSON data, across arbitrary chunk boundaries', () => {
    const text = 'event: chunk\ndata: {"seq": 1}\n\n: keep-alive\n\nevent: end\ndata: {}\n\n';
    for (const size of [1, 3, 7, text.length]) {
      const parser = new SseParser();
      const events = [];
      for (let i = 0; i < text.length; i += size) events.push(...parser.feed(text.slice(i, i + size)));
      expect(events).toEqual([
        { event: 'chunk', data: '{"seq": 1}' },
        { event: 'end', data: '{}' },
      ]);
    }
  });

  it('joins multi-line data, accepts CRLF and defaults the name to message', () => {
    const parser = new SseParser();
    expect(parser.feed('data: a\r\ndata: b\r\n\r\ndata:c\n\n')).toEqual([
      { event: 'message', data: 'a\nb' },
      { event: 'message', data: 'c' },
    ]);
  });

  it('waits for the end of an event before handing it out', () => {
    const parser = new SseParser();
    expect(parser.feed('event: done\ndata: {}\n')).toEqual([]);
    expect(parser.feed('\n')).toEqual([{ event: 'done', data: '{}' }]);
  });

  it('does not split a CRLF that arrives in two pieces into two line ends', () => {
    const parser = new SseParser();
    expect(parser.feed('data: x\r')).toEqual([]);
    expect(parser.feed('\n\r\n')).toEqual([{ event: 'message', data: 'x' }]);
  });
});
