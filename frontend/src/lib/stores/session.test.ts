import { describe, expect, it, vi } from 'vitest';
import { ApiError } from '../api/client';
import type { AuthConfig, User } from '../api/types';
import { Session } from './session.svelte';

const config: AuthConfig = { signup_enabled: true, has_users: false, oidc: [], password_min_length: 8 };
const admin: User = { id: 'u1', email: 'a@example.org', name: 'Ada', role: 'admin' };
const unauthorized = new ApiError({ title: 'Unauthorized', status: 401, detail: 'Sign in.', code: 'not_authenticated' });

function fakeClient(overrides: Record<string, unknown> = {}) {
  return {
    config: vi.fn(async () => config),
    me: vi.fn(async (): Promise<User> => {
      throw unauthorized;
    }),
    signIn: vi.fn(async () => ({ user: admin, token: 't' })),
    signUp: vi.fn(async () => ({ user: admin, token: 't' })),
    signOut: vi.fn(async () => undefined),
    ...overrides,
  } as unknown as ConstructorParameters<typeof Session>[0];
}

describe('Session', () => {
  it('is signed out when /me answers 401', async () => {
    const session = new Session(fakeClient());
    await session.load();
    expect(session.status).toBe('signed-out');
    expect(session.config?.has_users).toBe(false);
  });

  it('signs up the first account and remembers that users now exist', async () => {
    const session = new Session(fakeClient());
    await session.load();
    await session.signUp('Ada', 'a@example.org', 'correct horse');
    expect(session.status).toBe('signed-in');
    expect(session.isAdmin).toBe(true);
    expect(session.config?.has_users).toBe(true);
  });

  it('recognises an account awaiting approval', async () => {
    const pending = { ...admin, role: 'pending' };
    const session = new Session(fakeClient({ me: vi.fn(async () => pending) }));
    await session.load();
    expect(session.isPending).toBe(true);
    expect(session.isAdmin).toBe(false);
  });

  it('marks the session expired on a 401 only while signed in, and recovers on sign-in', async () => {
    const session = new Session(fakeClient({ me: vi.fn(async () => admin) }));
    session.markExpired();
    expect(session.expired).toBe(false);
    await session.load();
    session.markExpired();
    expect(session.expired).toBe(true);
    expect(session.user?.id).toBe('u1'); // the page keeps its user, and its input
    await session.signIn('a@example.org', 'pw');
    expect(session.expired).toBe(false);
  });

  it('shows the problem when the config cannot be loaded', async () => {
    const missing = new ApiError({ title: 'Not Found', status: 404, detail: 'No route for /api/v1/auth/config.' });
    const session = new Session(fakeClient({ config: vi.fn(async () => Promise.reject(missing)) }));
    await session.load();
    expect(session.status).toBe('error');
    expect(session.error?.detail).toBe('No route for /api/v1/auth/config.');
  });

  it('signs out even if the server call fails', async () => {
    const session = new Session(fakeClient({ me: vi.fn(async () => admin), signOut: vi.fn(async () => Promise.reject(new Error('x'))) }));
    await session.load();
    await expect(session.signOut()).rejects.toThrow('x');
    expect(session.status).toBe('signed-out');
    expect(session.user).toBeNull();
  });
});
