import { api } from './client';
import type { AuditEntry, Group, Page, PluginInfo, User } from './types';
import { toPage } from './types';

const id = encodeURIComponent;

export interface UserQuery {
  q?: string;
  cursor?: string | null;
  limit?: number;
}

export const usersApi = {
  list: async (query: UserQuery): Promise<Page<User>> =>
    toPage<User>(await api<unknown>('/api/v1/users', { query: { ...query } }), 'users'),
  update: (userId: string, body: { role?: string; active?: boolean }) =>
    api<User>(`/api/v1/users/${id(userId)}`, { method: 'PATCH', body }),
  approve: (userId: string) => api<User>(`/api/v1/users/${id(userId)}/approve`, { method: 'POST' }),
  remove: (userId: string) => api<void>(`/api/v1/users/${id(userId)}`, { method: 'DELETE' }),
};

export const groupsApi = {
  list: async (): Promise<Group[]> =>
    toPage<Group>(await api<unknown>('/api/v1/groups'), 'groups').items,
  get: (groupId: string) => api<Group>(`/api/v1/groups/${id(groupId)}`),
  create: (body: { name: string; description?: string }) =>
    api<Group>('/api/v1/groups', { method: 'POST', body }),
  update: (groupId: string, body: { name?: string; description?: string }) =>
    api<Group>(`/api/v1/groups/${id(groupId)}`, { method: 'PATCH', body }),
  remove: (groupId: string) => api<void>(`/api/v1/groups/${id(groupId)}`, { method: 'DELETE' }),
  addMember: (groupId: string, userId: string) =>
    api<unknown>(`/api/v1/groups/${id(groupId)}/members/${id(userId)}`, { method: 'PUT' }),
  removeMember: (groupId: string, userId: string) =>
    api<void>(`/api/v1/groups/${id(groupId)}/members/${id(userId)}`, { method: 'DELETE' }),
};

export const pluginsApi = {
  list: async (): Promise<PluginInfo[]> =>
    toPage<PluginInfo>(await api<unknown>('/api/v1/plugins'), 'plugins').items,
  setEnabled: (name: string, enabled: boolean) =>
    api<PluginInfo>(`/api/v1/plugins/${id(name)}`, { method: 'PATCH', body: { enabled } }),
};

export const auditApi = {
  list: async (query: {
    cursor?: string | null;
    limit?: number;
    type?: string;
  }): Promise<Page<AuditEntry>> =>
    toPage<AuditEntry>(await api<unknown>('/api/v1/audit', { query: { ...query } }), 'entries'),
};
