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
