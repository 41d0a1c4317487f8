// The login page's message for a failed sign-in (pure, unit-tested).
import { ApiError } from '../api/client';

/** The message for a failed login. */
export function loginError(e: unknown): string {
  if (e instanceof ApiError) {
    if (e.status === 401) return 'Wrong username or password.';
    if (e.status === 429)
      return `Too many failed attempts: wait a while before trying again. (${e.message})`;
    return e.message;
  }
  return e instanceof Error ? e.message : String(e);
}
