/**
 * The one way the UI talks to the REST API: same-origin cookies, the CSRF header on
 * unsafe methods, and RFC 9457 problem+json errors turned into a typed ApiError.
 */

export const CSRF_COOKIE = 'notewell_csrf';
export const CSRF_HEADER = 'X-CSRF-Token';
const UNSAFE_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

export interface FieldProblem {
  field: string;
  message: string;
  type?: string;
}

/** An RFC 9457 problem document, as the kernel renders it. */
export interface Problem {
  type?: string;
  title: string;
  status: number;
  detail: string;
  code?: string;
  request_id?: string | null;
  errors?: FieldProblem[];
  [extra: string]: unknown;
}

/** A failed request. `status` is 0 when the server could not be reached at all. */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly detail: string;
  readonly problem: Problem;

  constructor(problem: Problem) {
    super(problem.detail || problem.title);
    this.name = 'ApiError';
    this.problem = problem;
    this.status = problem.status;
    this.code = problem.code ?? `http_${problem.status}`;
    this.detail = problem.detail || problem.title;
  }

  get isUnauthorized(): boolean {
    return this.status === 401;
  }
}

export type Query = Record<string, string | number | boolean | null | undefined>;

export interface RequestOptions {
  method?: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  body?: unknown;
  query?: Query;
  signal?: AbortSignal;
  /** Do not treat a 401 as an expired session (sign-in itself answers 401). */
  anonymous?: boolean;
  /** Let the request outlive the page (a deletion sent as the tab closes). */
  keepalive?: boolean;
}

type UnauthorizedListener = (error: ApiError) => void;
const unauthorizedListeners = new Set<UnauthorizedListener>();

/** Be told when any request answers 401: the session has expired or was revoked. */
export function onUnauthorized(listener: UnauthorizedListener): () => void {
  unauthorizedListeners.add(listener);
  return () => unauthorizedListeners.delete(listener);
}

/** The value of cookie `name` in `cookies` (document.cookie by default). */
export function readCookie(name: string, cookies: string = globalThis.document?.cookie ?? ''): string | null {
  for (const part of cookies.split(';')) {
    const [key, ...rest] = part.trim().split('=');
    if (key === name) return decodeURIComponent(rest.join('='));
  }
  return null;
}

export function buildUrl(path: string, query?: Query): string {
  if (!query) return path;
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value !== undefined && value !== null && value !== '') params.set(key, String(value));
  }
  const search = params.toString();
  return search ? `${path}${path.includes('?') ? '&' : '?'}${search}` : path;
}

/** Call the API; resolves to the parsed JSON body (undefined for 204), rejects with ApiError. */
export async function api<T>(path: string, options: RequestOptions = {}): Promise<T> {
  const response = await request(path, options);
  return (await parseBody(response)) as T;
}

/**
 * Send a request the way `api()` does (cookies, CSRF, problems as ApiError) but hand
 * back the successful Response itself, for bodies read as a stream (Server-Sent Events).
 */
export async function request(path: string, options: RequestOptions & { accept?: string } = {}): Promise<Response> {
  const method = options.method ?? 'GET';
  const headers: Record<string, string> = { Accept: options.accept ?? 'application/json' };
  let body: string | undefined;
  if (options.body !== undefined) {
    headers['Content-Type'] = 'application/json';
    body = JSON.stringify(options.body);
  }
  if (UNSAFE_METHODS.has(method)) {
    const token = readCookie(CSRF_COOKIE);
    if (token) headers[CSRF_HEADER] = token;
  }
  let response: Response;
  try {
    response = await fetch(buildUrl(path, options.query), {
      method,
      headers,
      body,
      credentials: 'same-origin',
      signal: options.signal,
      keepalive: options.keepalive,
    });
  } catch (cause) {
    if (cause instanceof DOMException && cause.name === 'AbortError') throw cause;
    throw new ApiError({
      title: 'Network error',
      status: 0,
      detail: 'The server could not be reached. Check your connection and try again.',
      code: 'network_error',
    });
  }
  if (response.ok) return response;
  const error = new ApiError(await problemFrom(response));
  if (error.isUnauthorized && !options.anonymous) {
    for (const listener of unauthorizedListeners) listener(error);
  }
  throw error;
}

async function parseBody(response: Response): Promise<unknown> {
  if (response.status === 204) return undefined;
  const text = await response.text();
  if (!text) return undefined;
  const type = response.headers.get('Content-Type') ?? '';
  return type.includes('json') ? JSON.parse(text) : text;
}

/** The problem a failed response describes; a made-up one when it sent none. */
export async function problemFrom(response: Response): Promise<Problem> {
  const type = response.headers.get('Content-Type') ?? '';
  const fallback: Problem = {
    title: response.statusText || `HTTP ${response.status}`,
    status: response.status,
    detail: `The server answered ${response.status} ${response.statusText}`.trim() + '.',
  };
  if (!type.includes('json')) return fallback;
  try {
    const data: unknown = await response.json();
    if (data && typeof data === 'object') {
      const doc = data as Partial<Problem> & { error?: { message?: string } };
      const detail = doc.detail ?? doc.error?.message ?? fallback.detail;
      return { ...fallback, ...doc, status: doc.status ?? response.status, detail } as Problem;
    }
  } catch {
    // a body that claims JSON but is not: keep the fallback
  }
  return fallback;
}

/** A user-facing message for anything thrown. */
export function messageOf(error: unknown): string {
  if (error instanceof ApiError) return error.detail;
  if (error instanceof Error) return error.message;
  return String(error);
}
