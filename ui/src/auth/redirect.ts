// Where the login page sends the user back to (pure, unit-tested): only a path of this
// site, never another origin (`//evil.example`, `https://…`, `/\evil`), never the login
// page itself.

export const LOGIN_PATH = '/login';

/** The login page's URL that returns to `current` (path, query and hash) afterwards. */
export function loginUrl(current: { pathname: string; search: string; hash?: string }): string {
  const back = `${current.pathname}${current.search}${current.hash ?? ''}`;
  if (current.pathname === LOGIN_PATH || back === '/') return LOGIN_PATH;
  return `${LOGIN_PATH}?next=${encodeURIComponent(back)}`;
}

/** The page to open after signing in: `next` when it is a path of this site, else `/`.
 * The URL is read as the browser would read it (a backslash is a slash, tabs and
 * newlines are dropped), against a placeholder origin it must keep. */
export function safeNext(next: string | null | undefined): string {
  if (!next?.startsWith('/')) return '/';
  const origin = 'http://ferroflow.invalid';
  let url: URL;
  try {
    url = new URL(next, origin);
  } catch {
    return '/';
  }
  if (url.origin !== origin) return '/';
  if (url.pathname === LOGIN_PATH || url.pathname === `${LOGIN_PATH}/`) return '/';
  return `${url.pathname}${url.search}${url.hash}`;
}
