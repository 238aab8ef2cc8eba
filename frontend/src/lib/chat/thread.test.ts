import { describe, expect, it } from 'vitest';
import type { Message } from '../api/chat';
import {
  applyChunk,
  applyCreated,
  applySnapshot,
  branchPosition,
  keepStreamedText,
  removeMessages,
  upsertMessage,
} from './thread';

function msg(id: string, parent: string | null, extra: Partial<Message> = {}): Message {
  return {
    id,
    chat_id: 'c',
    parent_id: parent,
    role: extra.role ?? 'assistant',
    content: '',
    model: null,
    preset_id: null,
    status: 'complete',
    error: null,
    run_id: null,
    usage: null,
    meta: {},
    created_at: '',
    updated_at: '',
    seq: 0,
    ...extra,
  };
}

const user = (id: string, parent: string | null, extra: Partial<Message> = {}) => msg(id, parent, { role: 'user', ...extra });
const ids = (messages: Message[]) => messages.map((m) => m.id);

describe('the branch on show', () => {
  it('appends a send: the prompt, then its answer', () => {
    const path = applyCreated([], user('u1', null), [msg('a1', 'u1', { status: 'streaming' })]);
    expect(ids(path)).toEqual(['u1', 'a1']);
    expect(path[1]?.sibling_ids).toEqual(['a1']);
  });

  it('switches to a regenerated answer and counts it among the siblings', () => {
    const path = [user('u1', null), msg('a1', 'u1', { sibling_ids: ['a1'] })];
    const next = applyCreated(path, null, [msg('a2', 'u1', { status: 'streaming' })]);
    expect(ids(next)).toEqual(['u1', 'a2']);
    expect(next[1]?.sibling_ids).toEqual(['a1', 'a2']);
    expect(branchPosition(next[1] as Message)).toEqual({ index: 1, count: 2, previous: 'a1', next: undefined });
  });

  it('starts a new branch where an earlier message was edited', () => {
    const path = [user('u1', null), msg('a1', 'u1'), user('u2', 'a1'), msg('a2', 'u2')];
    const next = upsertMessage(path, user('u3', 'a1'));
    expect(ids(next)).toEqual(['u1', 'a1', 'u3']);
    expect(next[2]?.sibling_ids).toEqual(['u2', 'u3']);
    expect(ids(upsertMessage(path, user('r2', null)))).toEqual(['r2']);
  });

  it('keeps the first of several answers written side by side on show', () => {
    const path = applyCreated([], user('u1', null), [
      msg('a1', 'u1', { status: 'streaming' }),
      msg('a2', 'u1', { status: 'streaming' }),
    ]);
    expect(ids(path)).toEqual(['u1', 'a1']);
    expect(path[1]?.sibling_ids).toEqual(['a1', 'a2']);
  });

  it('ignores a message whose parent is not on show, and merges one it has', () => {
    const path = [user('u1', null), msg('a1', 'u1', { status: 'streaming', content: 'Hel', seq: 2, sibling_ids: ['a1'] })];
    expect(upsertMessage(path, msg('x', 'elsewhere'))).toBe(path);
    // a checkpoint older than the text we have does not roll it back
    const stale = upsertMessage(path, msg('a1', 'u1', { status: 'streaming', content: 'H', seq: 1 }));
    expect(stale[1]?.content).toBe('Hel');
    const final = upsertMessage(path, msg('a1', 'u1', { status: 'complete', content: 'Hello', seq: 3, run_id: 'r' }));
    expect(final[1]).toMatchObject({ content: 'Hello', status: 'complete', run_id: 'r', sibling_ids: ['a1'] });
  });
});

describe('chunks', () => {
  const path = [user('u1', null), msg('a1', 'u1', { status: 'streaming', content: 'He', seq: 1 })];

  it('appends the next chunk once, whichever source brings it first', () => {
    const once = applyChunk(path, { message_id: 'a1', seq: 2, content: 'llo' });
    expect(once.messages[1]?.content).toBe('Hello');
    const twice = applyChunk(once.messages, { message_id: 'a1', seq: 2, content: 'llo' });
    expect(twice.messages).toBe(once.messages);
  });

  it('reports a gap instead of writing text out of order', () => {
    const result = applyChunk(path, { message_id: 'a1', seq: 4, content: '!' });
    expect(result).toEqual({ messages: path, gap: true });
  });

  it('takes a re-attach snapshot unless it is older than the text on show', () => {
    const snap = applySnapshot(path, msg('a1', 'u1', { status: 'streaming', content: 'Hello wor', seq: 5 }));
    expect(snap[1]).toMatchObject({ content: 'Hello wor', seq: 5 });
    expect(applySnapshot(snap, msg('a1', 'u1', { status: 'streaming', content: 'H', seq: 1 }))[1]?.content).toBe('Hello wor');
  });
});

describe('reloading the branch', () => {
  it('keeps text streamed past the checkpoint, but takes every final state', () => {
    const known = [msg('a1', 'u1', { status: 'streaming', content: 'Hello wor', seq: 5 })];
    const live = keepStreamedText([msg('a1', 'u1', { status: 'streaming', content: 'He', seq: 1 })], known);
    expect(live[0]).toMatchObject({ content: 'Hello wor', seq: 5 });
    const ended = keepStreamedText([msg('a1', 'u1', { status: 'stopped', content: 'Hello', seq: 3 })], known);
    expect(ended[0]).toMatchObject({ content: 'Hello', status: 'stopped' });
  });
});

describe('deletions', () => {
  it('ends the branch above the first deleted message and forgets deleted siblings', () => {
    const path = [user('u1', null), msg('a1', 'u1', { sibling_ids: ['a0', 'a1'] }), user('u2', 'a1'), msg('a2', 'u2')];
    expect(ids(removeMessages(path, ['u2', 'a2']))).toEqual(['u1', 'a1']);
    expect(removeMessages(path, ['a0'])[1]?.sibling_ids).toEqual(['a1']);
  });
});
