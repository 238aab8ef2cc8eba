/** Data loaded from the API, with its loading and error state, reloadable. */
import { ApiError } from './api/client';

export class Resource<T> {
  data = $state<T | undefined>(undefined);
  error = $state<ApiError | null>(null);
  loading = $state(true);
  private generation = 0;

  constructor(private readonly loader: () => Promise<T>) {}

  async load(): Promise<void> {
    const mine = ++this.generation;
    this.loading = true;
    this.error = null;
    try {
      const data = await this.loader();
      if (mine === this.generation) this.data = data;
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

export function resource<T>(loader: () => Promise<T>): Resource<T> {
  const made = new Resource(loader);
  void made.load();
  return made;
}
