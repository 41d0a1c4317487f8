import { describe, expect, it } from 'vitest';
import type { MyPermission } from '../api/types';
import {
  allowedOnAll,
  experimentActions,
  type LEVELS,
  levelRights,
  modelActions,
  UNRESTRICTED,
} from './permissions';

describe('levelRights', () => {
  it('mirrors the server: READ reads, EDIT updates, MANAGE deletes and manages', () => {
    const rights = (l: (typeof LEVELS)[number]) => {
      const r = levelRights(l);
      return [r.can_read, r.can_update, r.can_delete, r.can_manage];
    };
    expect(rights('NO_PERMISSIONS')).toEqual([false, false, false, false]);
    expect(rights('READ')).toEqual([true, false, false, false]);
    expect(rights('USE')).toEqual([true, false, false, false]);
    expect(rights('EDIT')).toEqual([true, true, false, false]);
    expect(rights('MANAGE')).toEqual([true, true, true, true]);
  });

  it('gives admins everything whatever the level', () => {
    const r = levelRights('NO_PERMISSIONS', true);
    expect(r).toMatchObject({ can_delete: true, can_manage: true, is_admin: true });
  });
});

describe('experimentActions', () => {
  it('allows nothing while the permission loads', () => {
    const a = experimentActions(undefined);
    expect([a.delete.allowed, a.update.allowed, a.manage.allowed]).toEqual([false, false, false]);
    expect(a.delete.reason).toBe('Checking your permissions…');
  });

  it('READ: no delete, no edit, with the level needed as the reason', () => {
    const a = experimentActions(levelRights('READ'));
    expect(a.delete).toEqual({
      allowed: false,
      reason: 'You need MANAGE on this experiment',
    });
    expect(a.update).toEqual({ allowed: false, reason: 'You need EDIT on this experiment' });
    expect(a.manage.allowed).toBe(false);
  });

  it('EDIT edits but does not delete; MANAGE does all', () => {
    const edit = experimentActions(levelRights('EDIT'));
    expect([edit.update.allowed, edit.delete.allowed, edit.manage.allowed]).toEqual([
      true,
      false,
      false,
    ]);
    const manage = experimentActions(levelRights('MANAGE'));
    expect([manage.update.allowed, manage.delete.allowed, manage.manage.allowed]).toEqual([
      true,
      true,
      true,
    ]);
    expect(manage.delete.reason).toBeUndefined();
  });

  it('without auth everything is allowed', () => {
    const a = experimentActions(UNRESTRICTED);
    expect([a.delete.allowed, a.update.allowed, a.manage.allowed]).toEqual([true, true, true]);
  });
});

describe('modelActions', () => {
  it('names the model in its reasons', () => {
    const a = modelActions(levelRights('EDIT'));
    expect(a.update.allowed).toBe(true);
    expect(a.delete).toEqual({ allowed: false, reason: 'You need MANAGE on this model' });
    expect(a.manage.allowed).toBe(false);
  });
});

describe('allowedOnAll', () => {
  const perms = new Map<string, MyPermission>([
    ['1', levelRights('MANAGE')],
    ['2', levelRights('READ')],
  ]);
  it('allows only when every experiment allows', () => {
    expect(allowedOnAll(perms, ['1'], (a) => a.delete).allowed).toBe(true);
    expect(allowedOnAll(perms, ['1', '2'], (a) => a.delete)).toEqual({
      allowed: false,
      reason: 'You need MANAGE on this experiment',
    });
  });
  it('refuses an experiment whose permission is unknown, allows an empty set', () => {
    expect(allowedOnAll(perms, ['3'], (a) => a.update).allowed).toBe(false);
    expect(allowedOnAll(perms, [], (a) => a.update).allowed).toBe(true);
  });
});
