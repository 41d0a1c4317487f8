// The login page (`/login?next=…`): the server's answer to a wrong password or too many
// attempts is shown inline; a successful sign-in opens `next` (a path of this site only).
import { useEffect, useState } from 'preact/hooks';
import { loginError } from '../../auth/errors';
import { safeNext } from '../../auth/redirect';
import { currentUser, signIn } from '../../auth/session';
import { navigate } from '../../router';

export function LoginView(props: { query: URLSearchParams }) {
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);
  const next = safeNext(props.query.get('next'));
  // Already signed in (another tab, the back button): go on.
  useEffect(() => {
    if (currentUser.value) navigate(next, { replace: true });
  }, []);
  const submit = async (e: Event) => {
    e.preventDefault();
    if (!username || !password) return;
    setBusy(true);
    setError('');
    try {
      await signIn(username, password);
      navigate(next, { replace: true });
    } catch (err) {
      setError(loginError(err));
      setPassword('');
    } finally {
      setBusy(false);
    }
  };
  return (
    <section class="login">
      <h1>Sign in</h1>
      <form class="login-form" onSubmit={submit} aria-label="sign in">
        <label>
          Username
          <input
            name="username"
            autocomplete="username"
            value={username}
            // biome-ignore lint/a11y/noAutofocus: the page's only purpose is this form
            autoFocus
            onInput={(e) => setUsername(e.currentTarget.value)}
          />
        </label>
        <label>
          Password
          <input
            name="password"
            type="password"
            autocomplete="current-password"
            value={password}
            onInput={(e) => setPassword(e.currentTarget.value)}
          />
        </label>
        {error && (
          <div class="error" role="alert">
            {error}
          </div>
        )}
        <button type="submit" disabled={busy || !username || !password}>
          Sign in
        </button>
      </form>
    </section>
  );
}
