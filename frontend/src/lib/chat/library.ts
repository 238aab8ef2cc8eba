/** Pure helpers of the chat list: where a changed chat goes, and which list shows it. */
import type { Chat } from '../api/chat';

export interface ListFilter {
  archived: boolean;
  q: string;
  folderId: string | null;
  tag: string | null;
}

export const NO_FILTER: ListFilter = { archived: false, q: '', folderId: null, tag: null };

/** The plain view (not archived, no search, folder or tag) splits pinned chats from the rest. */
export function isPlainView(filter: ListFilter): boolean {
  return !filter.archived && !filter.q.trim() && filter.folderId === null && filter.tag === null;
}

/** Does `chat` belong in the list `filter` describes? */
export function matchesFilter(chat: Chat, filter: ListFilter): boolean {
  if (chat.archived !== filter.archived) return false;
  if (filter.folderId !== null && chat.folder_id !== filter.folderId) return false;
  if (filter.tag !== null && !chat.tags.includes(filter.tag)) return false;
  const q = filter.q.trim().toLowerCase();
  return !q || chat.title.toLowerCase().includes(q);
}

/**
 * `chats` with `chat` changed: moved to the top when it was active (`toTop`), kept in
 * its place otherwise (renamed, re-tagged), removed when it no longer belongs.
 */
export function placeChat(chats: Chat[], chat: Chat, belongs: boolean, toTop: boolean): Chat[] {
  const at = chats.findIndex((item) => item.id === chat.id);
  if (!belongs) return at < 0 ? chats : chats.filter((item) => item.id !== chat.id);
  if (at < 0 || toTop) return [chat, ...chats.filter((item) => item.id !== chat.id)];
  return chats.map((item, i) => (i === at ? chat : item));
}
