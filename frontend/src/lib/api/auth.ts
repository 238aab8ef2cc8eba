import { api } from './client';
import type { ApiKey, AuthConfig, NewApiKey, SignInResult, User } from './types';
import { toPage } from './types';

const base = '/api/v1/auth';

export const authApi = {
  config: () => api<AuthConfig>(`${base}/config`, { anonymous: true }),
  me: () => api<User>(`${base}/me`, { anonymous: true }),
  signUp: (body: { email: string; password: string; name: string }) =>
    api<SignInResult>(`${base}/signup`, { method: 'POST', body, anonymous: true }),
  signIn: (body: { email: string; password: string }) =>
    api<SignInResult>(`${base}/signin`, { method: 'POST', body, anonymous: true }),
  signOut: () => api<void>(`${base}/signout`, { method: 'POST', anonymous: true }),
  changePassword: (body: { current_password: string; new_password: string }) =>
    api<unknown>(`${base}/password`, { method: 'POST', body }),
  keys: async () => toPage<ApiKey>(await api<unknown>(`${base}/keys`), 'keys').items,
  createKey: (body: { name: string }) => api<NewApiKey>(`${base}/keys`, { method: 'POST', body }),
  deleteKey: (id: string) =>
    api<void>(`${base}/keys/${encodeURIComponent(id)}`, { method: 'DELETE' }),
};
