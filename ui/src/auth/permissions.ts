// What the signed-in user may do, decided from `permissions/mine` (pure, unit-tested):
// the views only ask these functions, so the rules live in one place and mirror the
// server's (MLflow's table: READ reads, EDIT updates, MANAGE deletes and grants).
import type { MyPermission, PermissionLevel } from '../api/types';

export const LEVELS: PermissionLevel[] = ['READ', 'USE', 'EDIT', 'MANAGE', 'NO_PERMISSIONS'];

/** Everything allowed: the server runs without authentication. */
export const UNRESTRICTED: MyPermission = {
  permission: 'MANAGE',
  can_read: true,
  can_update: true,
  can_delete: true,
  can_manage: true,
  is_admin: false,
};

/** A level's rights, as the server computes them (`permissions/mine` answers these). */
export function levelRights(level: PermissionLevel, isAdmin = false): MyPermission {
  const rank = { NO_PERMISSIONS: 0, READ: 1, USE: 2, EDIT: 3, MANAGE: 4 }[level] ?? 0;
  const admin = isAdmin;
  return {
    permission: admin ? 'MANAGE' : level,
    can_read: admin || rank >= 1,
    can_update: admin || rank >= 3,
    can_delete: admin || rank >= 4,
    can_manage: admin || rank >= 4,
    is_admin: admin,
  };
}

/** An action the UI offers, with why it is not allowed (shown as the control's title). */
export interface Allowed {
  allowed: boolean;
  /** Why not, when not allowed; `undefined` when allowed. */
  reason?: string;
}

const need = (ok: boolean | undefined, what: string, level: string): Allowed =>
  ok
    ? { allowed: true }
    : {
        allowed: false,
        reason: ok === undefined ? 'Checking your permissions…' : `You need ${level} on ${what}`,
      };

export interface ExperimentActions {
  /** Delete or restore runs, delete or restore the experiment: MANAGE. */
  delete: Allowed;
  /** Tags, descriptions, renames: EDIT. */
  update: Allowed;
  /** Grant and revoke others' permissions: MANAGE. */
  manage: Allowed;
}

/** The actions on an experiment (and its runs) for a permission; `undefined` = still
 * loading, so nothing is allowed yet. */
export function experimentActions(p: MyPermission | undefined): ExperimentActions {
  const what = 'this experiment';
  return {
    delete: need(p?.can_delete, what, 'MANAGE'),
    update: need(p?.can_update, what, 'EDIT'),
    manage: need(p?.can_manage, what, 'MANAGE'),
  };
}

export interface ModelActions {
  /** Tags, stage transitions, setting an alias: EDIT. */
  update: Allowed;
  /** Removing an alias, a version's tag, a version: MANAGE. */
  delete: Allowed;
  manage: Allowed;
}

export function modelActions(p: MyPermission | undefined): ModelActions {
  const what = 'this model';
  return {
    update: need(p?.can_update, what, 'EDIT'),
    delete: need(p?.can_delete, what, 'MANAGE'),
    manage: need(p?.can_manage, what, 'MANAGE'),
  };
}

/** One action over runs of several experiments: allowed only when it is allowed on every
 * one of them (an experiment whose permission is not known yet refuses). */
export function allowedOnAll(
  perms: ReadonlyMap<string, MyPermission>,
  experimentIds: Iterable<string>,
  pick: (a: ExperimentActions) => Allowed,
): Allowed {
  for (const id of experimentIds) {
    const a = pick(experimentActions(perms.get(id)));
    if (!a.allowed) return a;
  }
  return { allowed: true };
}
