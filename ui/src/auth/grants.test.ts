import { describe, expect, it } from 'vitest';
import type { AuthUser } from '../api/types';
import { grantOn, grantRows, resourceHref } from './grants';

const user: AuthUser = {
  id: 2,
  username: 'ana',
  is_admin: false,
  experiment_permissions: [
    { experiment_id: '10', user_id: 2, permission: 'EDIT' },
    { experiment_id: '9', user_id: 2, permission: 'READ' },
  ],
  registered_model_permissions: [{ name: 'clf', user_id: 2, permission: 'MANAGE' }],
};

describe('grantRows', () => {
  it('lists experiments by id (numerically), then models', () => {
    expect(grantRows(user)).toEqual([
      { type: 'experiment', id: '9', permission: 'READ' },
      { type: 'experiment', id: '10', permission: 'EDIT' },
      { type: 'registered_model', id: 'clf', permission: 'MANAGE' },
    ]);
  });
  it('is empty for no user or no grants', () => {
    expect(grantRows(undefined)).toEqual([]);
    expect(grantRows({ id: 1, username: 'x', is_admin: true })).toEqual([]);
  });
  it('finds one grant', () => {
    expect(grantOn(user, 'experiment', '10')).toBe('EDIT');
    expect(grantOn(user, 'registered_model', '10')).toBeUndefined();
  });
  it('links to the resource', () => {
    expect(resourceHref({ type: 'registered_model', id: 'a/b' })).toBe('/models/a%2Fb');
    expect(resourceHref({ type: 'experiment', id: '9' })).toBe('/experiments/9');
  });
});
