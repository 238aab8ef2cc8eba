/**
 * Who is signed in. Loads the auth config and the current user, signs in and out,
 * and notices an expired session (any 401) without throwing away the page.
 */
import { authApi } from '../api/auth';
import { ApiError, onUnauthorized } from '../api/client';
import type { AuthConfig, User } from '../api/types';

export type SessionStatus = 'loading' | 'signed-out' | 'signed-in' | 'error';

export class Session {
  status = $state<SessionStatus>('loading');
  config = $state<AuthConfig | null>(null);
  user = $state<User | null>(null);
  error = $state<ApiError | null>(null);
  /** A request answered 401 while signed in: show the sign-in dialog over the page. */
  expired = $state(false);

  isAdmin = $derived(this.user?.role === 'admin');
  isPending = $derived(this.user?.role === 'pending');

  constructor(private readonly client = authApi) {
    onUnauthorized(() => this.markExpired());
  }

  async load(): Promise<void> {
    this.status = 'loading';
    this.error = null;
    try {
      this.config = await this.client.config();
    } catch (error) {
      this.fail(error);
      return;
    }
    await this.refresh();
  }

  /** Ask the server who we are; a 401 simply means signed out. */
  async refresh(): Promise<void> {
    try {
      this.user = await this.client.me();
      this.status = 'signed-in';
      this.expired = false;
    } catch (error) {
      if (error instanceof ApiError && error.status === 401) {
        this.user = null;
        this.status = 'signed-out';
      } else {
        this.fail(error);
      }
    }
  }

  async signIn(email: string, password: string): Promise<User> {
    const result = await this.client.signIn({ email, password });
    return this.enter(result.user);
  }

  async signUp(name: string, email: string, password: string): Promise<User> {
    const result = await this.client.signUp({ name, email, password });
    if (this.config) this.config = { ...this.config, has_users: true };
    return this.enter(result.user);
  }

  async signOut(): Promise<void> {
    try {
      await this.client.signOut();
    } finally {
      this.user = null;
      this.expired = false;
      this.status = 'signed-out';
    }
  }

  markExpired(): void {
    if (this.status === 'signed-in') this.expired = true;
  }

  private enter(user: User): User {
    const switched = this.user !== null && this.user.id !== user.id;
    this.user = user;
    this.status = 'signed-in';
    this.expired = false;
    this.error = null;
    // another account signed in over an expired session: the page belongs to someone else
    if (switched && typeof window !== 'undefined') window.location.reload();
    return user;
  }

  private fail(error: unknown): void {
    this.error =
      error instanceof ApiError
        ? error
        : new ApiError({ title: 'Error', status: 0, detail: String(error) });
    this.status = 'error';
  }
}

export const session = new Session();
