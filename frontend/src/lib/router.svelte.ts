/** A small history router: the current path as state, and patterns like `/runs/:id`. */

export type Params = Record<string, string>;

/** Match `path` against `pattern` (`/runs/:id`, `*` for the rest); null when it does not. */
export function matchPath(pattern: string, path: string): Params | null {
  const want = pattern.split('/').filter(Boolean);
  const got = path.split('/').filter(Boolean);
  const params: Params = {};
  for (let i = 0; i < want.length; i++) {
    const part = want[i] as string;
    if (part === '*') {
      params['*'] = got.slice(i).map(decodeURIComponent).join('/');
      return params;
    }
    const value = got[i];
    if (value === undefined) return null;
    if (part.startsWith(':')) params[part.slice(1)] = decodeURIComponent(value);
    else if (part !== value) return null;
  }
  return want.length === got.length ? params : null;
}

/** Paths the server answers itself; links to them leave the app. */
const SERVER_PATHS = /^\/(api|v1|socket\.io|health|ready|openapi\.json)(\/|$)/;

class Router {
  path = $state('/');
  search = $state('');

  constructor() {
    if (typeof window !== 'undefined') {
      this.sync();
      window.addEventListener('popstate', () => this.sync());
    }
  }

  private sync(): void {
    this.path = window.location.pathname;
    this.search = window.location.search;
  }

  get query(): URLSearchParams {
    return new URLSearchParams(this.search);
  }

  navigate(to: string, options: { replace?: boolean } = {}): void {
    const url = new URL(to, window.location.href);
    const target = url.pathname + url.search + url.hash;
    if (options.replace) window.history.replaceState(null, '', target);
    else window.history.pushState(null, '', target);
    this.sync();
    window.scrollTo?.(0, 0);
  }

  /** Handle a click on an in-app link without reloading; returns true when handled. */
  intercept(event: MouseEvent): boolean {
    if (event.defaultPrevented || event.button !== 0) return false;
    if (event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return false;
    const anchor = (event.target as Element | null)?.closest?.('a');
    if (!anchor || anchor.target || anchor.hasAttribute('download')) return false;
    const href = anchor.getAttribute('href');
    if (!href || href.startsWith('#')) return false;
    const url = new URL(href, window.location.href);
    if (url.origin !== window.location.origin || SERVER_PATHS.test(url.pathname)) return false;
    event.preventDefault();
    this.navigate(url.pathname + url.search + url.hash);
    return true;
  }
}

export const router = new Router();
