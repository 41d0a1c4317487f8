// The "Permissions" panel of an experiment or a registered model, for who MANAGEs it (or
// an admin): grant a level to a username, revoke it, or look up what a user may do.
import { useState } from 'preact/hooks';
import { getPermission, grantPermission, revokePermission } from '../api/client';
import type { PermissionLevel, ResourceType } from '../api/types';
import { LEVELS } from '../auth/permissions';
import { ErrorBox } from './common';

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
  const what = props.type === 'experiment' ? 'this experiment' : 'this model';
  const act = async (f: () => Promise<string>) => {
    const u = username.trim();
    if (!u) return;
    setError(null);
    setNotice('');
    try {
      setNotice(await f());
    } catch (e) {
      setError(e);
    }
  };
  const u = username.trim();
  return (
    <details class="permissions-panel">
      <summary>Permissions</summary>
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
