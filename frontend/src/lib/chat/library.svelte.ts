/**
 * The chat list of the sidebar: pinned chats and the rest (cursor pages, loaded as the
 * list scrolls), filters (archived, title search, folder, tag), message search, folders
 * and tags — kept current by the chat events of other tabs. Deleting waits a few
 * seconds so that it can be undone.
 */
import { ApiError } from '../api/client';
import { chatApi, type Chat, type Folder, type SearchHit, type TagCount } from '../api/chat';
import { t } from '../i18n';
import { Pager } from '../pager.svelte';
import { toasts } from '../stores/toasts.svelte';
import { NO_FILTER, isPlainView, matchesFilter, placeChat, type ListFilter } from './library';

const PAGE = 50;
export const UNDO_MS = 6000;

type Data = Record<string, unknown>;

function sameListing(a: Chat, b: Chat): boolean {
  return (
    a.title === b.title &&
    a.pinned === b.pinned &&
    a.archived === b.archived &&
    a.folder_id === b.folder_id &&
    a.tags.join() === b.tags.join()
  );
}

export class ChatLibrary {
  filter = $state<ListFilter>({ ...NO_FILTER });
  folders = $state.raw<Folder[]>([]);
  tags = $state.raw<TagCount[]>([]);
  /** Chats being deleted (hidden) until the undo time is over. */
  private doomed = new Map<string, ReturnType<typeof setTimeout>>();
  private hidden = $state.raw<Set<string>>(new Set());
  /** Chat ids the server said are someone else's (admins' sockets see every user's events). */
  private foreign = new Set<string>();

  readonly pinned = new Pager<Chat>(async () =>
    isPlainView(this.filter) ? chatApi.list({ pinned: true, limit: PAGE }) : { items: [], next_cursor: null },
  );
  readonly chats = new Pager<Chat>((cursor) =>
    chatApi.list({
      archived: this.filter.archived,
      pinned: isPlainView(this.filter) ? false : undefined,
      folder_id: this.filter.folderId,
      tag: this.filter.tag,
      q: this.filter.q.trim() || undefined,
      cursor,
      limit: PAGE,
    }),
  );
  readonly hits = new Pager<SearchHit>(async (cursor) =>
    this.filter.q.trim() ? chatApi.search(this.filter.q.trim(), cursor) : { items: [], next_cursor: null },
  );

  visiblePinned = $derived(this.pinned.items.filter((chat) => !this.hidden.has(chat.id)));
  visibleChats = $derived(this.chats.items.filter((chat) => !this.hidden.has(chat.id)));

  constructor(private readonly isAdmin: () => boolean = () => false) {}

  async reload(): Promise<void> {
    await Promise.all([this.pinned.reset(), this.chats.reset(), this.hits.reset()]);
  }

  async loadSideData(): Promise<void> {
    try {
      [this.folders, this.tags] = await Promise.all([chatApi.folders(), chatApi.tags()]);
    } catch (error) {
      toasts.error(error);
    }
  }

  setFilter(change: Partial<ListFilter>): void {
    this.filter = { ...this.filter, ...change };
  }

  /** Put a chat we created or changed ourselves into the lists at once. */
  upsert(chat: Chat, toTop = false): void {
    const plain = isPlainView(this.filter);
    const known = [...this.pinned.items, ...this.chats.items].find((item) => item.id === chat.id);
    const top = toTop || !known || sameListing(known, chat);
    this.pinned.items = placeChat(this.pinned.items, chat, plain && chat.pinned && !chat.archived, top);
    this.chats.items = placeChat(
      this.chats.items,
      chat,
      matchesFilter(chat, this.filter) && !(plain && chat.pinned),
      top,
    );
    if (chat.tags.some((tag) => !this.tags.some((known) => known.name === tag))) void this.refreshTags();
  }

  remove(chatId: string): void {
    this.pinned.items = this.pinned.items.filter((chat) => chat.id !== chatId);
    this.chats.items = this.chats.items.filter((chat) => chat.id !== chatId);
  }

  async update(chat: Chat, change: Parameters<typeof chatApi.update>[1]): Promise<Chat | null> {
    try {
      const updated = await chatApi.update(chat.id, change);
      this.upsert(updated);
      if (change.tags) void this.refreshTags();
      return updated;
    } catch (error) {
      toasts.error(error);
      return null;
    }
  }

  /** Hide the chat now, delete it when the undo time is over (or as the page closes). */
  deleteWithUndo(chat: Chat): void {
    this.hidden = new Set([...this.hidden, chat.id]);
    const timer = setTimeout(() => void this.commitDelete(chat.id), UNDO_MS);
    this.doomed.set(chat.id, timer);
    toasts.withAction(
      t('chat.deleted', { title: chat.title }),
      { label: t('chat.undo'), run: () => this.undoDelete(chat.id) },
      UNDO_MS,
    );
  }

  isDoomed(chatId: string): boolean {
    return this.hidden.has(chatId);
  }

  private undoDelete(chatId: string): void {
    clearTimeout(this.doomed.get(chatId));
    this.doomed.delete(chatId);
    this.hidden = new Set([...this.hidden].filter((id) => id !== chatId));
  }

  private async commitDelete(chatId: string, keepalive = false): Promise<void> {
    this.doomed.delete(chatId);
    try {
      await chatApi.remove(chatId, keepalive);
      this.remove(chatId);
    } catch (error) {
      if (!(error instanceof ApiError && error.status === 404)) {
        toasts.error(error);
        this.undoDelete(chatId);
      }
    }
  }

  /** Deletions still waiting are sent now (the page is closing or the list goes away). */
  flushDeletes(keepalive = true): void {
    for (const [chatId, timer] of this.doomed) {
      clearTimeout(timer);
      void this.commitDelete(chatId, keepalive);
    }
  }

  async refreshTags(): Promise<void> {
    try {
      this.tags = await chatApi.tags();
    } catch {
      // the tag filter is a convenience: keep the old list
    }
  }

  /** A Socket.IO chat event. */
  async onEvent(topic: string, data: Data): Promise<void> {
    if (topic === 'chat.deleted') {
      this.remove(data.chat_id as string);
    } else if (topic === 'chat.created' || topic === 'chat.updated') {
      const chat = data.chat as Chat;
      if (await this.isMine(chat.id)) this.upsert(chat, topic === 'chat.created');
    } else if (topic === 'chat.folder_changed') {
      const folder = data.folder as Folder;
      if (this.isAdmin() && !this.folders.some((item) => item.id === folder.id)) {
        this.folders = await chatApi.folders(); // admins hear every user's folders: ask for ours
      } else {
        this.folders = [...this.folders.filter((item) => item.id !== folder.id), folder].sort((a, b) =>
          a.name.localeCompare(b.name),
        );
      }
    } else if (topic === 'chat.folder_deleted') {
      this.folders = this.folders.filter((item) => item.id !== data.folder_id);
      if (this.filter.folderId === data.folder_id) this.setFilter({ folderId: null });
    }
  }

  /**
   * Admins' sockets also carry other users' chat events, which name no owner; a chat
   * this list does not know is checked with the server (theirs answer 404).
   */
  private async isMine(chatId: string): Promise<boolean> {
    if (!this.isAdmin()) return true;
    if ([...this.pinned.items, ...this.chats.items].some((chat) => chat.id === chatId)) return true;
    if (this.foreign.has(chatId)) return false;
    try {
      await chatApi.get(chatId);
      return true;
    } catch {
      this.foreign.add(chatId);
      return false;
    }
  }
}
