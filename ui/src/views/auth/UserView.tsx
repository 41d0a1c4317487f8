// One user's grants (admins, `/admin/users/:username`): the list from `users/get`, the
// level of each changed or revoked, a grant added on an experiment or a model.
import { useState } from 'preact/hooks';
import {
  getUser,
  grantPermission,
  listTokens,
  revokePermission,
  revokeToken,
} from '../../api/client';
import type { PermissionLevel, ResourceType } from '../../api/types';
import { grantRows, resourceHref } from '../../auth/grants';
import { ErrorBox, useAction, useLoad } from '../../components/common';
import { LevelSelect } from '../../components/PermissionsPanel';
import { Link } from '../../router';
import { TokenTable } from './TokenTable';

const TYPE_LABEL: Record<ResourceType, string> = {
  experiment: 'experiment',
  registered_model: 'model',
};

export function UserView(props: { username: string }) {
  const [user, loadError, reloadUser] = useLoad(() => getUser(props.username), [props.username]);
  const [tokens, tokensError, reloadTokens] = useLoad(
    () => listTokens(props.username),
    [props.username],
  );
  const reload = () => {
    reloadUser();
    reloadTokens();
  };
  const [type, setType] = useState<ResourceType>('experiment');
  const [id, setId] = useState('');
  const [level, setLevel] = useState<PermissionLevel>('READ');
  const { act, error, notice } = useAction(reload);
  const rows = grantRows(user);
  return (
    <section>
      <nav class="crumbs">
        <Link href="/admin/users">Users</Link> / <span>{props.username}</span>
      </nav>
      <h1>{props.username}</h1>
      {user && <p class="muted">{user.is_admin ? 'Admin: every check is bypassed.' : 'User'}</p>}
      {notice && (
        <p class="notice" role="status">
          {notice}
        </p>
      )}
      <ErrorBox error={error ?? loadError ?? tokensError} />
      <h2>Grants</h2>
      {user && rows.length === 0 && <p class="muted">No grants: the default permission applies.</p>}
      {rows.length > 0 && (
        <table class="grid" aria-label="grants">
          <thead>
            <tr>
              <th>Kind</th>
              <th>Resource</th>
              <th>Permission</th>
              <th>Actions</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((g) => (
              <tr key={`${g.type}:${g.id}`} data-grant={`${g.type}:${g.id}`}>
                <td>{TYPE_LABEL[g.type]}</td>
                <td>
                  <Link href={resourceHref(g)}>{g.id}</Link>
                </td>
                <td>
                  <LevelSelect
                    label={`permission on ${TYPE_LABEL[g.type]} ${g.id}`}
                    value={g.permission}
                    onChange={(l) =>
                      act(
                        () => grantPermission(props.username, g.type, g.id, l),
                        `${props.username} now has ${l} on ${TYPE_LABEL[g.type]} ${g.id}.`,
                      )
                    }
                  />
                </td>
                <td>
                  <button
                    type="button"
                    class="danger"
                    aria-label={`revoke ${TYPE_LABEL[g.type]} ${g.id}`}
                    onClick={() =>
                      act(
                        () => revokePermission(props.username, g.type, g.id),
                        `Grant on ${TYPE_LABEL[g.type]} ${g.id} revoked.`,
                      )
                    }
                  >
                    Revoke
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <h2>Add a grant</h2>
      <form
        class="toolbar"
        aria-label="add grant"
        onSubmit={async (e) => {
          e.preventDefault();
          const target = id.trim();
          if (!target) return;
          if (
            await act(
              () => grantPermission(props.username, type, target, level),
              `${props.username} now has ${level} on ${TYPE_LABEL[type]} ${target}.`,
            )
          )
            setId('');
        }}
      >
        <select
          aria-label="resource kind"
          value={type}
          onChange={(e) => setType(e.currentTarget.value as ResourceType)}
        >
          <option value="experiment">Experiment (id)</option>
          <option value="registered_model">Model (name)</option>
        </select>
        <input
          aria-label="resource"
          placeholder={type === 'experiment' ? 'experiment id' : 'model name'}
          value={id}
          onInput={(e) => setId(e.currentTarget.value)}
        />
        <LevelSelect label="new grant permission" value={level} onChange={setLevel} />
        <button type="submit" disabled={!id.trim()}>
          Grant
        </button>
      </form>
      <h2>Access tokens</h2>
      {tokens && (
        <TokenTable
          tokens={tokens}
          label="user tokens"
          onRevoke={(t) => act(() => revokeToken(t.id, props.username), `Token ${t.name} revoked.`)}
        />
      )}
    </section>
  );
}
