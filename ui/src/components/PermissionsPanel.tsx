// The "Permissions" panel of an experiment or a registered model, for who MANAGEs it (or
// an admin): grant a level to a username, revoke it, or look up what a user may do.
import { useState } from 'preact/hooks';
import {
  getPermission,
  getUser,
  grantPermission,
  listUsers,
  revokePermission,
} from '../api/client';
import type { PermissionLevel, ResourceType } from '../api/types';
import { grantOn } from '../auth/grants';
import { LEVELS } from '../auth/permissions';
import { currentUser } from '../auth/session';
import { ErrorBox } from './common';

/** How many users an admin's panel reads the grants of. */
const MAX_LISTED_USERS = 100;

/** Who holds a grant on the resource (admins only: the API lists grants per user). */
async function holders(type: ResourceType, id: string) {
  const users = (await listUsers()).slice(0, MAX_LISTED_USERS);
  const full = await Promise.all(users.map((u) => getUser(u.username)));
  return full.flatMap((u) => {
    const level = grantOn(u, type, id);
    return level ? [{ username: u.username, level }] : [];
  });
}

/** A select of the permission levels. */
export function LevelSelect(props: {
  label: string;
  value: PermissionLevel;
  onChange: (level: PermissionLevel) => void;
}) {
  return (
    <select
      aria-label={props.label}
      value={props.value}
      onChange={(e) => props.onChange(e.currentTarget.value as PermissionLevel)}
    >
      {LEVELS.map((l) => (
        <option key={l} value={l}>
          {l}
        </option>
      ))}
    </select>
  );
}

export function PermissionsPanel(props: { type: ResourceType; id: string }) {
  const [username, setUsername] = useState('');
  const [level, setLevel] = useState<PermissionLevel>('READ');
  const [error, setError] = useState<unknown>(null);
  const [notice, setNotice] = useState('');
  const [open, setOpen] = useState(false);
  const [listed, setListed] = useState<{ username: string; level: PermissionLevel }[]>();
  const admin = !!currentUser.value?.is_admin;
  const refresh = () => {
    if (admin) holders(props.type, props.id).then(setListed, setError);
  };
  const what = props.type === 'experiment' ? 'this experiment' : 'this model';
  const act = async (f: () => Promise<string>) => {
    const u = username.trim();
    if (!u) return;
    setError(null);
    setNotice('');
    try {
      setNotice(await f());
      refresh();
    } catch (e) {
      setError(e);
    }
  };
  const u = username.trim();
  return (
    <details
      class="permissions-panel"
      open={open}
      onToggle={(e) => {
        const now = (e.currentTarget as HTMLDetailsElement).open;
        setOpen(now);
        if (now && !listed) refresh();
      }}
    >
      <summary>Permissions</summary>
      {admin && listed && (
        <table class="grid" aria-label="grants on this resource">
          <thead>
            <tr>
              <th>User</th>
              <th>Grant</th>
            </tr>
          </thead>
          <tbody>
            {listed.map((g) => (
              <tr key={g.username} data-holder={g.username}>
                <td>{g.username}</td>
                <td>{g.level}</td>
              </tr>
            ))}
            {listed.length === 0 && (
              <tr>
                <td colSpan={2} class="muted">
                  No grants: the default permission applies to everyone but admins.
                </td>
              </tr>
            )}
          </tbody>
        </table>
      )}
      <form
        class="toolbar"
        aria-label="grant permission"
        onSubmit={(e) => {
          e.preventDefault();
          act(async () => {
            await grantPermission(u, props.type, props.id, level);
            return `${u} now has ${level} on ${what}.`;
          });
        }}
      >
        <input
          aria-label="grant username"
          placeholder="Username"
          value={username}
          onInput={(e) => setUsername(e.currentTarget.value)}
        />
        <LevelSelect label="grant level" value={level} onChange={setLevel} />
        <button type="submit" disabled={!u}>
          Grant
        </button>
        <button
          type="button"
          disabled={!u}
          onClick={() =>
            act(async () => {
              await revokePermission(u, props.type, props.id);
              return `${u}'s grant on ${what} revoked: the default permission applies.`;
            })
          }
        >
          Revoke
        </button>
        <button
          type="button"
          disabled={!u}
          onClick={() =>
            act(async () => {
              const p = await getPermission(u, props.type, props.id);
              return `${u} has ${p.permission} on ${what}.`;
            })
          }
        >
          Check
        </button>
      </form>
      {notice && (
        <p class="notice" role="status">
          {notice}
        </p>
      )}
      <ErrorBox error={error} />
    </details>
  );
}
