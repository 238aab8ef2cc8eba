/** A cursor-paginated list: first page, "load more", reload with new filters. */
import { ApiError } from './api/client';
import type { Page } from './api/types';

export class Pager<T> {
  items = $state<T[]>([]);
  cursor = $state<string | null>(null);
  loading = $state(false);
  loaded = $state(false);
  error = $state<ApiError | null>(null);
  private generation = 0;

  constructor(private readonly fetchPage: (cursor: string | null) => Promise<Page<T>>) {}

  /** Load the first page again (new filters, or after a change). */
  reset(): Promise<void> {
    return this.fetch(true);
  }

  more(): Promise<void> {
    return this.fetch(false);
  }

  private async fetch(reset: boolean): Promise<void> {
    const mine = ++this.generation;
    this.loading = true;
    this.error = null;
    try {
      const page = await this.fetchPage(reset ? null : this.cursor);
      if (mine !== this.generation) return;
      this.items = reset ? page.items : [...this.items, ...page.items];
      this.cursor = page.next_cursor;
      this.loaded = true;
    } catch (error) {
      if (mine !== this.generation) return;
      this.error =
        error instanceof ApiError
          ? error
          : new ApiError({ title: 'Error', status: 0, detail: String(error) });
    } finally {
      if (mine === this.generation) this.loading = false;
    }
  }
}
