// Users (admins only, `/admin/users`): list, create with a password, make or unmake
// admin, reset a password, delete after a confirmation; each user's grants on its page.
import { useLayoutEffect, useRef, useState } from 'preact/hooks';
import { createUser, deleteUser, listUsers, updateAdmin, updatePassword } from '../../api/client';
import type { UserSummary } from '../../api/types';
import { currentUser } from '../../auth/session';
import { ErrorBox, useAction, useLoad } from '../../components/common';
import { Link } from '../../router';

export function UsersView() {
  const me = currentUser.value;
  const [users, loadError, reload] = useLoad(listUsers, []);
  const [name, setName] = useState('');
  const [password, setPassword] = useState('');
  const [resetting, setResetting] = useState<string | null>(null);
  const [deleting, setDeleting] = useState<string | null>(null);

  const { act, error, notice } = useAction(reload);

  if (!me?.is_admin)
    return (
      <section>
        <h1>Users</h1>
        <p class="muted">Only admins manage users.</p>
      </section>
    );
  return (
    <section>
      <h1>Users</h1>
      <form
        class="toolbar"
        aria-label="create user"
        onSubmit={async (e) => {
          e.preventDefault();
          const u = name.trim();
          if (!u || !password) return;
          if (await act(() => createUser(u, password), `User ${u} created.`)) {
            setName('');
            setPassword('');
          }
        }}
      >
        <input
          aria-label="new username"
          placeholder="Username"
          autocomplete="off"
          value={name}
          onInput={(e) => setName(e.currentTarget.value)}
        />
        <input
          aria-label="new user password"
          placeholder="Password"
          type="password"
          autocomplete="new-password"
          value={password}
          onInput={(e) => setPassword(e.currentTarget.value)}
        />
        <button type="submit" disabled={!name.trim() || !password}>
          Create user
        </button>
      </form>
      {notice && (
        <p class="notice" role="status">
          {notice}
        </p>
      )}
      <ErrorBox error={error ?? loadError} />
      <table class="grid" aria-label="users">
        <thead>
          <tr>
            <th>Username</th>
            <th>ID</th>
            <th>Admin</th>
            <th>Actions</th>
          </tr>
        </thead>
        <tbody>
          {(users ?? []).map((u) => (
            <tr key={u.id} data-user={u.username}>
              <td>
                <Link href={`/admin/users/${encodeURIComponent(u.username)}`}>{u.username}</Link>
                {u.username === me.username && <span class="muted small"> (you)</span>}
              </td>
              <td class="mono">{u.id}</td>
              <td>{u.is_admin ? 'yes' : 'no'}</td>
              <td class="actions">
                {/* Not on oneself: demoting or deleting the signed-in admin would lock
                    them out of this page (the server keeps the last admin anyway). */}
                {u.username !== me.username && (
                  <button
                    type="button"
                    onClick={() =>
                      act(
                        () => updateAdmin(u.username, !u.is_admin),
                        `${u.username} is ${u.is_admin ? 'no longer' : 'now'} an admin.`,
                      )
                    }
                  >
                    {u.is_admin ? 'Remove admin' : 'Make admin'}
                  </button>
                )}
                <button type="button" onClick={() => setResetting(u.username)}>
                  Reset password
                </button>
                {u.username !== me.username && (
                  <button type="button" class="danger" onClick={() => setDeleting(u.username)}>
                    Delete
                  </button>
                )}
                {resetting === u.username && (
                  <ResetPassword
                    username={u.username}
                    onSave={async (p) => {
                      if (
                        await act(
                          () => updatePassword(u.username, p),
                          `Password of ${u.username} changed.`,
                        )
                      )
                        setResetting(null);
                    }}
                    onCancel={() => setResetting(null)}
                  />
                )}
                {deleting === u.username && (
                  <ConfirmDeleteUser
                    user={u}
                    onConfirm={async () => {
                      setDeleting(null);
                      await act(() => deleteUser(u.username), `User ${u.username} deleted.`);
                    }}
                    onCancel={() => setDeleting(null)}
                  />
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}

function ResetPassword(props: {
  username: string;
  onSave: (password: string) => void;
  onCancel: () => void;
}) {
  const [password, setPassword] = useState('');
  return (
    <form
      class="inline-form"
      aria-label={`reset password of ${props.username}`}
      onSubmit={(e) => {
        e.preventDefault();
        if (password) props.onSave(password);
      }}
    >
      <input
        type="password"
        aria-label={`password for ${props.username}`}
        autocomplete="new-password"
        value={password}
        // biome-ignore lint/a11y/noAutofocus: the user just asked to type a new password
        autoFocus
        onInput={(e) => setPassword(e.currentTarget.value)}
        onKeyDown={(e) => e.key === 'Escape' && props.onCancel()}
      />
      <button type="submit" disabled={!password}>
        Save password
      </button>
      <button type="button" onClick={props.onCancel}>
        Cancel
      </button>
    </form>
  );
}

/** The inline confirmation of a user's deletion; it takes the focus, Escape cancels. */
export function ConfirmDeleteUser(props: {
  user: UserSummary;
  onConfirm: () => void;
  onCancel: () => void;
}) {
  const button = useRef<HTMLButtonElement>(null);
  useLayoutEffect(() => button.current?.focus(), []);
  return (
    <div
      class="confirm"
      role="alertdialog"
      aria-label="confirm delete user"
      onKeyDown={(e) => e.key === 'Escape' && props.onCancel()}
    >
      <span>Delete user {props.user.username}? Their grants and tokens go with them.</span>
      <button type="button" class="danger" ref={button} onClick={props.onConfirm}>
        Delete {props.user.username}
      </button>
      <button type="button" onClick={props.onCancel}>
        Cancel
      </button>
    </div>
  );
}
