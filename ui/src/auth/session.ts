// The signed-in user, as signals every view reads: `authMode` is 'loading' until the
// server has answered `session`, then 'off' (a server without `--auth`: the UI behaves as
// it always did) or 'on'; `currentUser` is who is signed in (null: nobody).
import { signal } from '@preact/signals';
import { useEffect, useState } from 'preact/hooks';
import {
  login as apiLogin,
  logout as apiLogout,
  getSession,
  myPermission,
  setUnauthenticatedHandler,
} from '../api/client';
import type { AuthUser, MyPermission } from '../api/types';
import { currentUrl, navigate } from '../router';
import { levelRights, UNRESTRICTED } from './permissions';
import { LOGIN_PATH, loginUrl } from './redirect';

const ADMIN = levelRights('MANAGE', true);
const NONE = levelRights('NO_PERMISSIONS');

export const authMode = signal<'loading' | 'off' | 'on'>('loading');
export const currentUser = signal<AuthUser | null>(null);
/** Why the session could not be read (the server is down, …). */
export const sessionError = signal<unknown>(null);

/** Sends the user to the login page, to come back here afterwards. */
export function requireLogin() {
  currentUser.value = null;
  const url = currentUrl.value;
  if (url.pathname !== LOGIN_PATH) navigate(loginUrl(url), { replace: true });
}

export async function loadSession() {
  try {
    const s = await getSession();
    if (s === 'off') {
      authMode.value = 'off';
      return;
    }
    currentUser.value = s?.user ?? null;
    authMode.value = 'on';
    setUnauthenticatedHandler(requireLogin);
    if (!s) requireLogin();
  } catch (e) {
    sessionError.value = e;
  }
}

export async function signIn(username: string, password: string) {
  const s = await apiLogin(username, password);
  currentUser.value = s.user;
}

export async function signOut() {
  try {
    await apiLogout();
  } finally {
    currentUser.value = null;
    navigate(LOGIN_PATH);
  }
}

/** The caller's permission on an experiment or model: everything without `--auth`,
 * `undefined` while it loads (or when it failed). */
export function useMyPermission(
  target: { experimentId: string } | { name: string } | undefined,
): MyPermission | undefined {
  const mode = authMode.value;
  const key = target ? JSON.stringify(target) : '';
  const [perm, setPerm] = useState<{ key: string; p: MyPermission } | undefined>(undefined);
  const admin = !!currentUser.value?.is_admin;
  useEffect(() => {
    if (mode !== 'on' || !target || admin) return;
    let live = true;
    myPermission(target).then(
      (p) => live && setPerm({ key, p }),
      // Unknown is refused (the server decides anyway).
      () => live && setPerm({ key, p: NONE }),
    );
    return () => {
      live = false;
    };
  }, [mode, key, admin, currentUser.value?.username]);
  if (mode === 'off') return UNRESTRICTED;
  // Admins bypass every check: no need to ask.
  if (currentUser.value?.is_admin) return ADMIN;
  return perm?.key === key ? perm.p : undefined;
}

/** The caller's permissions on several experiments at once (the multi-experiment runs
 * table). */
export function useMyPermissions(experimentIds: string[]): Map<string, MyPermission> {
  const mode = authMode.value;
  const key = experimentIds.join(',');
  const [perms, setPerms] = useState<{ key: string; m: Map<string, MyPermission> }>({
    key: '',
    m: new Map(),
  });
  const admin = !!currentUser.value?.is_admin;
  useEffect(() => {
    if (mode !== 'on' || admin) return;
    let live = true;
    Promise.all(
      experimentIds.map((id) =>
        myPermission({ experimentId: id }).then(
          (p): [string, MyPermission] => [id, p],
          (): [string, MyPermission] => [id, NONE],
        ),
      ),
    ).then((pairs) => {
      if (!live) return;
      const m = new Map<string, MyPermission>();
      for (const [id, p] of pairs) m.set(id, p);
      setPerms({ key, m });
    });
    return () => {
      live = false;
    };
  }, [mode, key, admin, currentUser.value?.username]);
  if (mode === 'off') return new Map(experimentIds.map((id) => [id, UNRESTRICTED]));
  if (admin) return new Map(experimentIds.map((id) => [id, ADMIN]));
  return perms.key === key ? perms.m : new Map();
}
