// A user's grants as rows (pure, unit-tested): experiments, then registered models, each
// sorted by id / name, as `users/get` answers them.
import type { AuthUser, PermissionLevel, ResourceType } from '../api/types';

export interface GrantRow {
  type: ResourceType;
  id: string;
  permission: PermissionLevel;
}

export function grantRows(user: AuthUser | undefined): GrantRow[] {
  if (!user) return [];
  const byId = (a: GrantRow, b: GrantRow) => a.id.localeCompare(b.id, undefined, { numeric: true });
  const experiments: GrantRow[] = (user.experiment_permissions ?? []).map((g) => ({
    type: 'experiment',
    id: String(g.experiment_id),
    permission: g.permission,
  }));
  const models: GrantRow[] = (user.registered_model_permissions ?? []).map((g) => ({
    type: 'registered_model',
    id: g.name,
    permission: g.permission,
  }));
  return [...experiments.sort(byId), ...models.sort(byId)];
}

/** The grant a user holds on one resource, if any. */
export function grantOn(
  user: AuthUser | undefined,
  type: ResourceType,
  id: string,
): PermissionLevel | undefined {
  return grantRows(user).find((g) => g.type === type && g.id === id)?.permission;
}

/** The link to a grant's resource. */
export function resourceHref(g: { type: ResourceType; id: string }): string {
  return g.type === 'experiment'
    ? `/experiments/${encodeURIComponent(g.id)}`
    : `/models/${encodeURIComponent(g.id)}`;
}
