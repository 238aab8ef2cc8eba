import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ApiError, api, buildUrl, onUnauthorized, readCookie } from './client';

function respond(status: number, body?: unknown, type = 'application/json'): Response {
  const text = body === undefined ? null : typeof body === 'string' ? body : JSON.stringify(body);
  return new Response(text, { status, headers: text === null ? {} : { 'Content-Type': type } });
}

describe('api', () => {
  const fetchMock = vi.fn();

  beforeEach(() => {
    vi.stubGlobal('fetch', fetchMock);
    document.cookie = 'notewell_csrf=csrf-123; path=/';
  });
  afterEach(() => {
    vi.unstubAllGlobals();
    fetchMock.mockReset();
    document.cookie = 'notewell_csrf=; expires=Thu, 01 Jan 1970 00:00:00 GMT; path=/';
  });

  it('sends cookies and no CSRF header on GET', async () => {
    fetchMock.mockResolvedValue(respond(200, { ok: true }));
    await expect(api('/api/v1/x', { query: { q: 'a b', empty: '', none: null } })).resolves.toEqual({ ok: true });
    const [url, init] = fetchMock.mock.calls[0] as [string, RequestInit];
    expect(url).toBe('/api/v1/x?q=a+b');
    expect(init.credentials).toBe('same-origin');
    expect((init.headers as Record<string, string>)['X-CSRF-Token']).toBeUndefined();
  });

  it.each(['POST', 'PUT', 'PATCH', 'DELETE'] as const)('adds the CSRF token on %s', async (method) => {
    fetchMock.mockResolvedValue(respond(204));
    await expect(api('/api/v1/x', { method, body: { a: 1 } })).resolves.toBeUndefined();
    const init = fetchMock.mock.calls[0]?.[1] as RequestInit;
    const headers = init.headers as Record<string, string>;
    expect(headers['X-CSRF-Token']).toBe('csrf-123');
    expect(headers['Content-Type']).toBe('application/json');
    expect(init.body).toBe('{"a":1}');
  });

  it('turns problem+json into a typed ApiError', async () => {
    fetchMock.mockResolvedValue(
      respond(409, { type: 'x', title: 'Conflict', status: 409, detail: 'That email is taken.', code: 'email_taken', request_id: 'r1' }, 'application/problem+json'),
    );
    const error = await api('/api/v1/x', { method: 'POST' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect(error).toMatchObject({ status: 409, code: 'email_taken', detail: 'That email is taken.' });
    expect((error as ApiError).problem.request_id).toBe('r1');
  });

  it('explains a failure that is not problem+json', async () => {
    fetchMock.mockResolvedValue(new Response('<html>Bad gateway</html>', { status: 502, statusText: 'Bad Gateway', headers: { 'Content-Type': 'text/html' } }));
    const error = (await api('/api/v1/x').catch((e: unknown) => e)) as ApiError;
    expect(error.status).toBe(502);
    expect(error.detail).toContain('502');
  });

  it('reports an unreachable server as status 0', async () => {
    fetchMock.mockRejectedValue(new TypeError('Failed to fetch'));
    const error = (await api('/api/v1/x').catch((e: unknown) => e)) as ApiError;
    expect(error.status).toBe(0);
    expect(error.code).toBe('network_error');
  });

  it('tells listeners about a 401, except for anonymous calls', async () => {
    const seen: ApiError[] = [];
    const off = onUnauthorized((error) => seen.push(error));
    const problem = { title: 'Unauthorized', status: 401, detail: 'Sign in to do this.', code: 'not_authenticated' };
    fetchMock.mockImplementation(async () => respond(401, problem, 'application/problem+json'));
    await api('/api/v1/runs').catch(() => undefined);
    await api('/api/v1/auth/signin', { method: 'POST', anonymous: true }).catch(() => undefined);
    off();
    await api('/api/v1/runs').catch(() => undefined);
    expect(seen).toHaveLength(1);
    expect(seen[0]?.code).toBe('not_authenticated');
  });
});

describe('helpers', () => {
  it('reads a cookie by name', () => {
    expect(readCookie('b', 'a=1; b=two%20words; c=3')).toBe('two words');
    expect(readCookie('z', 'a=1')).toBeNull();
  });

  it('builds query strings without empty values', () => {
    expect(buildUrl('/x', { a: 1, b: undefined, c: '' })).toBe('/x?a=1');
    expect(buildUrl('/x?y=1', { a: true })).toBe('/x?y=1&a=true');
    expect(buildUrl('/x')).toBe('/x');
  });
});
