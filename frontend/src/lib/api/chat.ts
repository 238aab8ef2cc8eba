/** The chat API (plugins/chat): chats, their message trees, answers, and the library. */
import { api, buildUrl, request } from './client';
import type { Page } from './types';

export type MessageStatus = 'streaming' | 'complete' | 'stopped' | 'incomplete' | 'failed' | (string & {});
export type Role = 'user' | 'assistant' | 'system' | (string & {});

export interface MessageError {
  code?: string;
  message?: string;
  status?: number;
  [key: string]: unknown;
}

export interface Message {
  id: string;
  chat_id: string;
  parent_id: string | null;
  role: Role;
  content: string;
  model: string | null;
  preset_id: string | null;
  status: MessageStatus;
  error: MessageError | null;
  run_id: string | null;
  usage: Record<string, unknown> | null;
  meta: Record<string, unknown>;
  created_at: string;
  updated_at: string;
  /** The number of the last chunk in `content`. */
  seq: number;
  /** On a thread's path: this message and its siblings, oldest first. */
  sibling_ids?: string[] | null;
}

export interface Chat {
  id: string;
  title: string;
  folder_id: string | null;
  preset_id: string | null;
  models: string[];
  tags: string[];
  pinned: boolean;
  archived: boolean;
  created_at: string;
  updated_at: string;
}

/** A chat with the branch on show, root first. */
export interface ChatDetail extends Chat {
  system_prompt: string;
  params: Record<string, unknown>;
  current_message_id: string | null;
  messages: Message[];
}

export interface ChatQuery {
  archived?: boolean;
  pinned?: boolean;
  folder_id?: string | null;
  tag?: string | null;
  q?: string;
  cursor?: string | null;
  limit?: number;
}

export interface ChatUpdate {
  title?: string;
  folder_id?: string | null;
  preset_id?: string | null;
  system_prompt?: string;
  models?: string[];
  tags?: string[];
  pinned?: boolean;
  archived?: boolean;
}

export interface Folder {
  id: string;
  name: string;
  created_at: string;
  updated_at: string;
}

export interface Preset {
  id: string;
  name: string;
  base_model: string;
  system_prompt: string;
  params: Record<string, unknown>;
}

export interface PresetCreate {
  name: string;
  base_model: string;
  system_prompt?: string;
  params?: { temperature?: number; max_tokens?: number };
}

export interface TagCount {
  name: string;
  count: number;
}

export interface SearchHit {
  chat_id: string;
  chat_title: string;
  message_id: string;
  role: Role;
  snippet: string;
  highlights: Array<[number, number]>;
  created_at: string;
}

export interface Share {
  token: string;
  path: string;
  chat_id: string;
  created_at: string;
}

export interface SharedChat {
  title: string;
  shared_at: string;
  messages: Array<Pick<Message, 'role' | 'content' | 'model' | 'status' | 'created_at'>>;
}

/** What a send commits: `parent_id` left out continues the branch on show, `null` starts a new root. */
export interface MessageCreate {
  content: string;
  parent_id?: string | null;
  models?: string[];
}

export const PRESET_PREFIX = 'preset:';

const id = encodeURIComponent;
const chatPath = (chatId: string) => `/api/v1/chats/${id(chatId)}`;
const messagePath = (chatId: string, messageId: string) => `${chatPath(chatId)}/messages/${id(messageId)}`;
const SSE = 'text/event-stream';

export const chatApi = {
  list: async (query: ChatQuery): Promise<Page<Chat>> => {
    const body = await api<{ data: Chat[]; next_cursor: string | null }>('/api/v1/chats', { query: { ...query } });
    return { items: body.data, next_cursor: body.next_cursor };
  },
  create: (body: { models?: string[]; title?: string; folder_id?: string | null }) =>
    api<Chat>('/api/v1/chats', { method: 'POST', body }),
  get: (chatId: string) => api<ChatDetail>(chatPath(chatId)),
  update: (chatId: string, body: ChatUpdate) => api<Chat>(chatPath(chatId), { method: 'PATCH', body }),
  remove: (chatId: string, keepalive = false) =>
    api<void>(chatPath(chatId), { method: 'DELETE', keepalive }),
  switchBranch: (chatId: string, messageId: string) =>
    api<ChatDetail>(`${chatPath(chatId)}/current`, { method: 'PUT', body: { message_id: messageId } }),
  message: (chatId: string, messageId: string) => api<Message>(messagePath(chatId, messageId)),
  deleteMessage: (chatId: string, messageId: string) =>
    api<ChatDetail>(messagePath(chatId, messageId), { method: 'DELETE' }),
  stop: (chatId: string, messageId: string) =>
    api<Message>(`${messagePath(chatId, messageId)}/stop`, { method: 'POST' }),

  /** Send a message; the answer streams back as Server-Sent Events. */
  send: (chatId: string, body: MessageCreate, signal?: AbortSignal) =>
    request(`${chatPath(chatId)}/messages`, { method: 'POST', body: { ...body, stream: true }, signal, accept: SSE }),
  regenerate: (chatId: string, messageId: string, model: string | undefined, signal?: AbortSignal) =>
    request(`${messagePath(chatId, messageId)}/regenerate`, {
      method: 'POST',
      body: model ? { model, stream: true } : { stream: true },
      signal,
      accept: SSE,
    }),
  /** Re-attach to an answer: what it has so far, then each new chunk. */
  follow: (chatId: string, messageId: string, signal?: AbortSignal) =>
    request(`${messagePath(chatId, messageId)}/stream`, { signal, accept: SSE }),

  search: async (q: string, cursor?: string | null): Promise<Page<SearchHit>> => {
    const body = await api<{ data: SearchHit[]; next_cursor: string | null }>('/api/v1/chats/search', {
      query: { q, cursor, limit: 20 },
    });
    return { items: body.data, next_cursor: body.next_cursor };
  },
  tags: async (): Promise<TagCount[]> => (await api<{ data: TagCount[] }>('/api/v1/chats/tags')).data,
  folders: async (): Promise<Folder[]> => (await api<{ data: Folder[] }>('/api/v1/chats/folders')).data,
  createFolder: (name: string) => api<Folder>('/api/v1/chats/folders', { method: 'POST', body: { name } }),
  renameFolder: (folderId: string, name: string) =>
    api<Folder>(`/api/v1/chats/folders/${id(folderId)}`, { method: 'PATCH', body: { name } }),
  deleteFolder: (folderId: string) => api<void>(`/api/v1/chats/folders/${id(folderId)}`, { method: 'DELETE' }),
  presets: async (): Promise<Preset[]> => (await api<{ data: Preset[] }>('/api/v1/chats/presets')).data,
  createPreset: (body: PresetCreate) => api<Preset>('/api/v1/chats/presets', { method: 'POST', body }),
  deletePreset: (presetId: string) => api<void>(`/api/v1/chats/presets/${id(presetId)}`, { method: 'DELETE' }),

  share: (chatId: string) => api<Share>(`${chatPath(chatId)}/share`, { method: 'POST' }),
  getShare: (chatId: string) => api<Share>(`${chatPath(chatId)}/share`),
  revokeShare: (chatId: string) => api<void>(`${chatPath(chatId)}/share`, { method: 'DELETE' }),
  shared: (token: string) => api<SharedChat>(`/api/v1/chats/shared/${id(token)}`, { anonymous: true }),

  exportUrl: (chatId: string, format: 'json' | 'markdown') => buildUrl(`${chatPath(chatId)}/export`, { format }),
};
