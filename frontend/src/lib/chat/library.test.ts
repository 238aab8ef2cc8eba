import { describe, expect, it } from 'vitest';
import type { Chat } from '../api/chat';
import { NO_FILTER, isPlainView, matchesFilter, placeChat } from './library';

function chat(id: string, extra: Partial<Chat> = {}): Chat {
  return {
    id,
    title: `Chat ${id}`,
    folder_id: null,
    preset_id: null,
    models: [],
    tags: [],
    pinned: false,
    archived: false,
    created_at: '',
    updated_at: '',
    ...extra,
  };
}

describe('chat list', () => {
  it('knows which list a chat belongs to', () => {
    expect(isPlainView(NO_FILTER)).toBe(true);
    expect(isPlainView({ ...NO_FILTER, tag: 'x' })).toBe(false);
    expect(matchesFilter(chat('a', { archived: true }), NO_FILTER)).toBe(false);
    expect(matchesFilter(chat('a', { tags: ['work'] }), { ...NO_FILTER, tag: 'work' })).toBe(true);
    expect(matchesFilter(chat('a', { title: 'Paris trip' }), { ...NO_FILTER, q: 'PARIS' })).toBe(true);
    expect(matchesFilter(chat('a'), { ...NO_FILTER, folderId: 'f' })).toBe(false);
  });

  it('moves an active chat to the top and keeps a renamed one in place', () => {
    const list = [chat('a'), chat('b'), chat('c')];
    expect(placeChat(list, chat('c'), true, true).map((c) => c.id)).toEqual(['c', 'a', 'b']);
    const renamed = placeChat(list, chat('b', { title: 'New' }), true, false);
    expect(renamed.map((c) => c.title)).toEqual(['Chat a', 'New', 'Chat c']);
    expect(placeChat(list, chat('b'), false, false).map((c) => c.id)).toEqual(['a', 'c']);
    expect(placeChat(list, chat('z'), true, false).map((c) => c.id)).toEqual(['z', 'a', 'b', 'c']);
  });
});
