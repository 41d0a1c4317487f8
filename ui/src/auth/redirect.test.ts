import { describe, expect, it } from 'vitest';
import { loginUrl, safeNext } from './redirect';

describe('loginUrl', () => {
  it('keeps where the user was', () => {
    expect(loginUrl({ pathname: '/experiments/3', search: '?filter=a%20b', hash: '' })).toBe(
      '/login?next=%2Fexperiments%2F3%3Ffilter%3Da%2520b',
    );
  });
  it('needs no next for the home page or the login page itself', () => {
    expect(loginUrl({ pathname: '/', search: '' })).toBe('/login');
    expect(loginUrl({ pathname: '/login', search: '?next=%2Fmodels' })).toBe('/login');
  });
  it('round-trips through safeNext', () => {
    const back = '/experiments/3/chart?runs=a,b&metric=loss#x';
    const next = new URL(loginUrl(new URL(back, 'http://h')), 'http://h').searchParams.get('next');
    expect(safeNext(next)).toBe(back);
  });
});

describe('safeNext', () => {
  it('accepts paths of this site', () => {
    expect(safeNext('/models/m%201')).toBe('/models/m%201');
    expect(safeNext('/runs?exp=1,2')).toBe('/runs?exp=1,2');
  });
  it('refuses other origins, however spelled', () => {
    for (const bad of [
      'https://evil.example/',
      '//evil.example/x',
      '/\\evil.example',
      '/\t/evil.example',
      'javascript:alert(1)',
      'evil',
      '',
      null,
      undefined,
    ])
      expect(safeNext(bad)).toBe('/');
  });
  it('never returns to the login page', () => {
    expect(safeNext('/login')).toBe('/');
    expect(safeNext('/login/?next=/x')).toBe('/');
  });
});
