/** Model connections (admins) and the model list (everyone): docs/providers.md. */
import { api } from './client';

export type Capability = 'chat' | 'embeddings' | 'tools' | 'vision' | (string & {});

/** A connection as the API shows it: never the key, only whether one is set. */
export interface Connection {
  id: string;
  name: string;
  type: string;
  base_url: string;
  has_api_key: boolean;
  prefix: string;
  models: string[];
  enabled: boolean;
  options: Record<string, unknown>;
  created_at: string;
  updated_at: string;
}

export type OptionValue = string | number | boolean;

export interface ConnectionCreate {
  name: string;
  type: string;
  base_url?: string;
  api_key?: string | null;
  prefix?: string;
  models?: string[];
  enabled?: boolean;
  options?: Record<string, OptionValue>;
}

/** Fields left out stay as they are; `api_key: null` clears the stored key. */
export type ConnectionUpdate = Partial<Omit<ConnectionCreate, 'type'>>;

export interface ProviderType {
  type: string;
  label: string;
  default_base_url: string | null;
  requires_api_key: boolean;
}

export interface ModelInfo {
  id: string;
  name: string;
  capabilities: Capability[];
  context_length: number | null;
  connection: string;
  provider: string;
  owned_by: string | null;
}

/** A connection whose model list could not be read (admins only). */
export interface ListingError {
  connection: string;
  code: string;
  message: string;
}

export interface ModelList {
  data: ModelInfo[];
  errors: ListingError[];
}

export interface ConnectionCheck {
  ok: boolean;
  models: ModelInfo[];
  error: ListingError | null;
}

const id = encodeURIComponent;

export const connectionsApi = {
  list: async (): Promise<Connection[]> =>
    (await api<{ data: Connection[] }>('/api/v1/connections')).data,
  create: (body: ConnectionCreate) =>
    api<Connection>('/api/v1/connections', { method: 'POST', body }),
  update: (connectionId: string, body: ConnectionUpdate) =>
    api<Connection>(`/api/v1/connections/${id(connectionId)}`, { method: 'PATCH', body }),
  remove: (connectionId: string) =>
    api<void>(`/api/v1/connections/${id(connectionId)}`, { method: 'DELETE' }),
  check: (connectionId: string) =>
    api<ConnectionCheck>(`/api/v1/connections/${id(connectionId)}/check`, { method: 'POST' }),
  types: async (): Promise<ProviderType[]> =>
    (await api<{ data: ProviderType[] }>('/api/v1/provider-types')).data,
};

export const modelsApi = {
  list: async (): Promise<ModelList> => {
    const body = await api<Partial<ModelList>>('/api/v1/models');
    return { data: body.data ?? [], errors: body.errors ?? [] };
  },
  /** Rebuild the list now (admins). */
  refresh: async (): Promise<ModelList> => {
    const body = await api<Partial<ModelList>>('/api/v1/models/refresh', { method: 'POST' });
    return { data: body.data ?? [], errors: body.errors ?? [] };
  },
};
