import { describe, expect, it } from 'vitest';
import { ApiError } from '../api/client';
import { loginError } from './errors';
import { parseExpiryDays } from './tokens';

describe('parseExpiryDays', () => {
  it('empty is never', () => expect(parseExpiryDays('  ')).toEqual({}));
  it('takes whole days from 1 to 3650', () => {
    expect(parseExpiryDays('30')).toEqual({ days: 30 });
    expect(parseExpiryDays('3650')).toEqual({ days: 3650 });
    expect(parseExpiryDays('0').error).toMatch(/between 1 and 3650/);
    expect(parseExpiryDays('3651').error).toMatch(/between/);
    expect(parseExpiryDays('1.5').error).toMatch(/whole number/);
    expect(parseExpiryDays('-2').error).toMatch(/whole number/);
  });
});

describe('loginError', () => {
  it('says what went wrong', () => {
    expect(loginError(new ApiError(401, 'UNAUTHENTICATED', 'You are not…'))).toBe(
      'Wrong username or password.',
    );
    expect(loginError(new ApiError(429, 'REQUEST_LIMIT_EXCEEDED', 'slow down'))).toMatch(
      /^Too many failed attempts.*slow down/,
    );
    expect(loginError(new ApiError(500, 'INTERNAL_ERROR', 'boom'))).toBe('boom');
    expect(loginError(new TypeError('Failed to fetch'))).toBe('Failed to fetch');
  });
});
