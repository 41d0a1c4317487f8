// The header's user menu (only with `--auth`): who is signed in, their tokens, the users
// page for admins, and signing out.
import { useEffect, useRef, useState } from 'preact/hooks';
import { currentUser, signOut } from '../../auth/session';
import { currentUrl, Link } from '../../router';

export function UserMenu() {
  const user = currentUser.value;
  const [open, setOpen] = useState(false);
  // Following one of its links closes the menu.
  const path = currentUrl.value.pathname;
  useEffect(() => setOpen(false), [path]);
  // A click elsewhere or Escape closes it too.
  const menu = useRef<HTMLDetailsElement>(null);
  useEffect(() => {
    if (!open) return;
    const onClick = (e: MouseEvent) => {
      if (!menu.current?.contains(e.target as Node)) setOpen(false);
    };
    const onKey = (e: KeyboardEvent) => e.key === 'Escape' && setOpen(false);
    document.addEventListener('click', onClick);
    document.addEventListener('keydown', onKey);
    return () => {
      document.removeEventListener('click', onClick);
      document.removeEventListener('keydown', onKey);
    };
  }, [open]);
  if (!user) return null;
  return (
    <details
      ref={menu}
      class="user-menu"
      open={open}
      onToggle={(e) => setOpen((e.currentTarget as HTMLDetailsElement).open)}
    >
      <summary aria-label="user menu">
        <span class="user-name">{user.username}</span>
        {user.is_admin && <span class="badge">admin</span>}
      </summary>
      <div class="user-menu-body" role="menu">
        <p class="muted small">Signed in as {user.username}</p>
        <Link href="/tokens" role="menuitem">
          Tokens
        </Link>
        <Link href="/account/password" role="menuitem">
          Change password
        </Link>
        {user.is_admin && (
          <Link href="/admin/users" role="menuitem">
            Users
          </Link>
        )}
        <button type="button" role="menuitem" class="link" onClick={() => signOut()}>
          Sign out
        </button>
      </div>
    </details>
  );
}
