// The API client with --auth: the CSRF header on writes, a 401 sending the user to the
// login page, a stale CSRF token refreshed once (fetch stubbed).
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  ApiError,
  getSession,
  login,
  setCsrfToken,
  setTag,
  setUnauthenticatedHandler,
} from './client';

type Call = { url: string; method: string; headers: Record<string, string> };

function stubFetch(answers: [number, object][]): Call[] {
  const calls: Call[] = [];
  vi.stubGlobal('fetch', async (url: string, init: RequestInit = {}) => {
    calls.push({
      url,
      method: init.method ?? 'GET',
      headers: (init.headers ?? {}) as Record<string, string>,
    });
    const [status, body] = answers.shift() ?? [500, {}];
    return new Response(JSON.stringify(body), { status });
  });
  return calls;
}

afterEach(() => {
  vi.unstubAllGlobals();
  setCsrfToken(undefined);
  setUnauthenticatedHandler(undefined);
});

const user = { id: 1, username: 'ana', is_admin: false };

describe('the API client with a session', () => {
  it('keeps the login answer’s CSRF token and sends it on writes only', async () => {
    const calls = stubFetch([
      [200, { user, csrf_token: 'tok-1' }],
      [200, {}],
    ]);
    await login('ana', 'pw');
    await setTag('r1', 'k', 'v');
    expect(calls[1].headers['X-CSRF-Token']).toBe('tok-1');
    expect(calls[0].url).toBe('/ajax-api/ferroflow/v1/login');
  });

  it('a 401 calls the handler, a failed login does not', async () => {
    const handler = vi.fn();
    setUnauthenticatedHandler(handler);
    stubFetch([
      [401, { error_code: 'UNAUTHENTICATED', message: 'no' }],
      [401, { error_code: 'UNAUTHENTICATED', message: 'no' }],
    ]);
    await expect(login('ana', 'bad')).rejects.toMatchObject({ status: 401 });
    expect(handler).not.toHaveBeenCalled();
    await expect(setTag('r1', 'k', 'v')).rejects.toBeInstanceOf(ApiError);
    expect(handler).toHaveBeenCalledTimes(1);
  });

  it('reads the session: off without auth (404), null when signed out (401)', async () => {
    stubFetch([
      [404, { error_code: 'ENDPOINT_NOT_FOUND', message: 'x' }],
      [401, { error_code: 'UNAUTHENTICATED', message: 'x' }],
      [200, { user, csrf_token: 'tok-2' }],
      [200, {}],
    ]);
    expect(await getSession()).toBe('off');
    expect(await getSession()).toBeNull();
    expect(await getSession()).toMatchObject({ user: { username: 'ana' } });
  });

  it('retries a write once with a fresh CSRF token, not more', async () => {
    setCsrfToken('stale');
    const denied: [number, object] = [
      403,
      { error_code: 'PERMISSION_DENIED', message: 'The CSRF token is missing or wrong.' },
    ];
    const calls = stubFetch([denied, [200, { user, csrf_token: 'fresh' }], [200, {}]]);
    await setTag('r1', 'k', 'v');
    expect(calls.map((c) => c.headers['X-CSRF-Token'])).toEqual(['stale', undefined, 'fresh']);
    // A refusal that is not about CSRF is not retried.
    const again = stubFetch([
      [403, { error_code: 'PERMISSION_DENIED', message: 'Permission denied' }],
    ]);
    await expect(setTag('r1', 'k', 'v')).rejects.toMatchObject({ status: 403 });
    expect(again).toHaveLength(1);
  });
});
