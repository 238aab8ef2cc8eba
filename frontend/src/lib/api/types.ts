/** Shapes of the REST API, as its contracts describe them. */

export type Role = 'admin' | 'user' | 'pending' | (string & {});

export interface GroupRef {
  id: string;
  name: string;
}

export interface User {
  id: string;
  email: string;
  name: string;
  role: Role;
  groups?: GroupRef[];
  created_at?: string;
  /** Admin listings only. */
  active?: boolean;
  has_password?: boolean;
}

export interface OidcProvider {
  name: string;
  label: string;
}

export interface AuthConfig {
  signup_enabled: boolean;
  has_users: boolean;
  oidc: OidcProvider[];
  password_min_length: number;
}

export interface SignInResult {
  user: User;
  token: string;
}

export interface ApiKey {
  id: string;
  name: string;
  prefix?: string;
  created_at?: string;
  last_used_at?: string | null;
}

/** Only the response to creating a key carries the secret, once. */
export interface NewApiKey extends ApiKey {
  key: string;
}

export interface Group {
  id: string;
  name: string;
  description?: string;
  /** Only `GET /groups/{id}` lists the members; the list gives a count. */
  members?: User[] | null;
  member_count?: number | null;
  created_at?: string;
}

export interface PluginInfo {
  name: string;
  version: string;
  source: string;
  state: 'enabled' | 'disabled' | 'failed' | (string & {});
  hooks: string[];
  error: string | null;
  location?: string;
  can_disable?: boolean;
}

export interface AuditEntry {
  id: string;
  type: string;
  actor_id: string | null;
  subject_id: string | null;
  address: string | null;
  data: Record<string, unknown>;
  created_at: string;
}

/** One page of a cursor-paginated list. */
export interface Page<T> {
  items: T[];
  next_cursor: string | null;
}

/** Read a list response: `{items, next_cursor}`, `{<resource>: [...]}` or a bare array. */
export function toPage<T>(body: unknown, key: string): Page<T> {
  if (Array.isArray(body)) return { items: body as T[], next_cursor: null };
  const doc = (body ?? {}) as Record<string, unknown>;
  const items = (doc.items ?? doc[key] ?? doc.data ?? []) as T[];
  const cursor = (doc.next_cursor ?? doc.cursor ?? null) as string | null;
  return { items: Array.isArray(items) ? items : [], next_cursor: cursor || null };
}
