import { afterEach, describe, expect, it, vi } from 'vitest';
import type { ChatDetail, Message } from '../api/chat';
import { ChatThread } from './thread.svelte';

function message(id: string, extra: Partial<Message>): Message {
  return {
    id, chat_id: 'c', parent_id: null, role: 'assistant', content: '', model: 'm', preset_id: null,
    status: 'complete', error: null, run_id: null, usage: null, meta: {}, created_at: '', updated_at: '', seq: 0,
    ...extra,
  };
}

const prompt = message('u1', { role: 'user', content: 'Hi' });
const placeholder = message('a1', { parent_id: 'u1', status: 'streaming' });
const final = message('a1', { parent_id: 'u1', content: 'Hello!', seq: 2, run_id: 'r1' });

function sse(events: Array<[string, unknown]>): Response {
  const text = events.map(([name, data]) => `event: ${name}\ndata: ${JSON.stringify(data)}\n\n`).join('');
  return new Response(text, { headers: { 'Content-Type': 'text/event-stream' } });
}

function detail(messages: Message[]): Response {
  const body: ChatDetail = {
    id: 'c', title: 'T', folder_id: null, preset_id: null, models: [], tags: [], pinned: false, archived: false,
    created_at: '', updated_at: '', system_prompt: '', params: {}, current_message_id: null, messages,
  };
  return new Response(JSON.stringify(body), { headers: { 'Content-Type': 'application/json' } });
}

describe('ChatThread', () => {
  afterEach(() => vi.unstubAllGlobals());

  it('places a sent message and its streamed answer, then reads the chat again', async () => {
    const fetchMock = vi.fn(async (url: string, init: RequestInit) => {
      if (init.method === 'POST') {
        return sse([
          ['created', { message: prompt, answers: [placeholder] }],
          ['chunk', { message_id: 'a1', seq: 1, content: 'Hel' }],
          ['chunk', { message_id: 'a1', seq: 1, content: 'Hel' }], // the same chunk twice
          ['chunk', { message_id: 'a1', seq: 2, content: 'lo!' }],
          ['done', { message: final }],
          ['end', {}],
        ]);
      }
      expect(url).toBe('/api/v1/chats/c');
      return detail([{ ...prompt, sibling_ids: ['u1'] }, { ...final, sibling_ids: ['a1'] }]);
    });
    vi.stubGlobal('fetch', fetchMock);
    const thread = new ChatThread('c');
    await thread.send({ content: 'Hi' });
    await vi.waitFor(() => expect(fetchMock).toHaveBeenCalledTimes(2));
    await vi.waitFor(() => expect(thread.messages.map((m) => m.content)).toEqual(['Hi', 'Hello!']));
    expect(thread.messages[1]).toMatchObject({ status: 'complete', run_id: 'r1' });
    expect(thread.streaming).toBe(false);
    const body = JSON.parse(String(fetchMock.mock.calls[0]?.[1]?.body));
    expect(body).toEqual({ content: 'Hi', stream: true });
  });

  it('re-attaches to an answer still being written when it loads', async () => {
    const fetchMock = vi.fn(async (url: string) => {
      if (url.endsWith('/stream')) {
        return sse([
          ['message', { message: { ...placeholder, content: 'Hel', seq: 1 }, seq: 1 }],
          ['chunk', { message_id: 'a1', seq: 2, content: 'lo!' }],
          ['done', { message: final }],
          ['end', {}],
        ]);
      }
      return detail([prompt, placeholder]);
    });
    vi.stubGlobal('fetch', fetchMock);
    const thread = new ChatThread('c');
    await thread.load();
    await vi.waitFor(() => expect(thread.messages[1]?.status).toBe('complete'));
    expect(thread.messages[1]?.content).toBe('Hello!');
    expect(fetchMock.mock.calls.map((call) => call[0])).toEqual([
      '/api/v1/chats/c',
      '/api/v1/chats/c/messages/a1/stream',
    ]);
  });

  it('streams the answers of several models side by side and keeps the first on show', async () => {
    const mark = (column: number) => ({ side_by_side: { group: 'a1', column } });
    const one = message('a1', { parent_id: 'u1', status: 'streaming', model: 'm1', meta: mark(0) });
    const two = message('a2', { parent_id: 'u1', status: 'streaming', model: 'm2', meta: mark(1) });
    const fetchMock = vi.fn(async (_url: string, init: RequestInit) => {
      if (init.method === 'POST') {
        return sse([
          ['created', { message: prompt, answers: [one, two] }],
          ['chunk', { message_id: 'a2', seq: 1, content: 'Deux' }],
          ['chunk', { message_id: 'a1', seq: 1, content: 'One' }],
          ['done', { message: { ...one, status: 'complete', content: 'One', seq: 1 } }],
          ['done', { message: { ...two, status: 'complete', content: 'Deux', seq: 1 } }],
          ['end', {}],
        ]);
      }
      return detail([prompt, { ...one, status: 'complete', content: 'One', seq: 1, sibling_ids: ['a1', 'a2'] }]);
    });
    vi.stubGlobal('fetch', fetchMock);
    const thread = new ChatThread('c');
    await thread.send({ content: 'Hi', models: ['m1', 'm2'] });
    await vi.waitFor(() => expect(thread.streaming).toBe(false));
    await vi.waitFor(() => expect(fetchMock).toHaveBeenCalledTimes(2)); // the chat read again
    expect(thread.messages.map((m) => [m.id, m.content])).toEqual([['u1', 'Hi'], ['a1', 'One']]);
    expect(thread.others.map((m) => [m.id, m.content, m.status])).toEqual([['a2', 'Deux', 'complete']]);
  });

  it('re-attaches every column still being written when it loads', async () => {
    const mark = (column: number) => ({ side_by_side: { group: 'a1', column } });
    const one = message('a1', { parent_id: 'u1', status: 'streaming', meta: mark(0), sibling_ids: ['a1', 'a2'] });
    const two = message('a2', { parent_id: 'u1', status: 'streaming', meta: mark(1) });
    const fetchMock = vi.fn(async (url: string) => {
      if (url.endsWith('/a1/stream') || url.endsWith('/a2/stream')) {
        const answer = url.endsWith('/a1/stream') ? one : two;
        return sse([
          ['message', { message: { ...answer, content: 'so', seq: 1 }, seq: 1 }],
          ['chunk', { message_id: answer.id, seq: 2, content: ' far' }],
          ['done', { message: { ...answer, status: 'complete', content: 'so far', seq: 2 } }],
          ['end', {}],
        ]);
      }
      if (url.endsWith('/messages/a2')) return new Response(JSON.stringify(two), { headers: { 'Content-Type': 'application/json' } });
      return detail([prompt, one]);
    });
    vi.stubGlobal('fetch', fetchMock);
    const thread = new ChatThread('c');
    await thread.load();
    await vi.waitFor(() => expect(thread.others[0]?.status).toBe('complete'));
    await vi.waitFor(() => expect(thread.messages[1]?.status).toBe('complete'));
    expect(thread.messages[1]?.content).toBe('so far');
    expect(thread.others[0]?.content).toBe('so far');
    expect(fetchMock.mock.calls.map((call) => call[0]).sort()).toEqual([
      '/api/v1/chats/c',
      '/api/v1/chats/c/messages/a1/stream',
      '/api/v1/chats/c/messages/a2',
      '/api/v1/chats/c/messages/a2/stream',
    ]);
  });

  it("follows another tab's send to several models: columns, chunks, final states", () => {
    const mark = (column: number) => ({ side_by_side: { group: 'a1', column } });
    const one = message('a1', { parent_id: 'u1', status: 'streaming', meta: mark(0) });
    const two = message('a2', { parent_id: 'u1', status: 'streaming', meta: mark(1) });
    const thread = new ChatThread('c');
    const event = (topic: string, data: Record<string, unknown>) => thread.onEvent(topic, { chat_id: 'c', ...data });
    event('chat.message_created', { message: prompt });
    event('chat.message_created', { message: one });
    event('chat.message_created', { message: two });
    event('chat.message_chunk', { message_id: 'a2', seq: 1, content: 'Zwei' });
    event('chat.message_chunk', { message_id: 'a1', seq: 1, content: 'One' });
    expect(thread.live.map((m) => m.id)).toEqual(['a1', 'a2']);
    event('chat.message_updated', { message: { ...one, status: 'complete', content: 'One', seq: 1 } });
    event('chat.message_updated', { message: { ...two, status: 'complete', content: 'Zwei', seq: 1 } });
    expect(thread.messages.map((m) => m.id)).toEqual(['u1', 'a1']);
    expect(thread.messages[1]?.sibling_ids).toEqual(['a1', 'a2']);
    expect(thread.others.map((m) => [m.id, m.content, m.status])).toEqual([['a2', 'Zwei', 'complete']]);
    expect(thread.streaming).toBe(false);
  });

  it('regenerates with the model asked for', async () => {
    const fetchMock = vi.fn(async () => sse([['end', {}]]));
    vi.stubGlobal('fetch', fetchMock);
    const thread = new ChatThread('c');
    await thread.regenerate(final, 'other/model');
    const [url, init] = fetchMock.mock.calls[0] as unknown as [string, RequestInit];
    expect(url).toBe('/api/v1/chats/c/messages/a1/regenerate');
    expect(JSON.parse(String(init.body))).toEqual({ model: 'other/model', stream: true });
  });

  it('rejects a send the server refused, leaving the branch as it was', async () => {
    vi.stubGlobal('fetch', vi.fn(async () =>
      new Response(JSON.stringify({ title: 'Forbidden', status: 403, detail: 'No.', code: 'model_forbidden' }), {
        status: 403,
        headers: { 'Content-Type': 'application/problem+json' },
      }),
    ));
    const thread = new ChatThread('c');
    await expect(thread.send({ content: 'Hi' })).rejects.toMatchObject({ code: 'model_forbidden' });
    expect(thread.messages).toEqual([]);
    expect(thread.sending).toBe(false);
  });
});
