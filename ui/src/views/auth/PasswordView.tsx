// The signed-in user's own password (`/account/password`), through `users/update-password`
// (allowed for oneself): the new password typed twice.
import { useState } from 'preact/hooks';
import { updatePassword } from '../../api/client';
import { currentUser } from '../../auth/session';
import { ErrorBox } from '../../components/common';

export function PasswordView() {
  const me = currentUser.value;
  const [password, setPassword] = useState('');
  const [again, setAgain] = useState('');
  const [error, setError] = useState<unknown>(null);
  const [notice, setNotice] = useState('');
  const mismatch = again !== '' && password !== again;
  if (!me) return null;
  return (
    <section>
      <h1>Change your password</h1>
      <form
        class="login-form"
        aria-label="change password"
        onSubmit={async (e) => {
          e.preventDefault();
          if (!password || password !== again) return;
          setError(null);
          setNotice('');
          try {
            await updatePassword(me.username, password);
            setPassword('');
            setAgain('');
            setNotice('Your password was changed.');
          } catch (err) {
            setError(err);
          }
        }}
      >
        <label>
          New password
          <input
            type="password"
            autocomplete="new-password"
            value={password}
            onInput={(e) => setPassword(e.currentTarget.value)}
          />
        </label>
        <label>
          New password again
          <input
            type="password"
            autocomplete="new-password"
            value={again}
            onInput={(e) => setAgain(e.currentTarget.value)}
          />
        </label>
        {mismatch && <p class="muted small">The two passwords differ.</p>}
        <ErrorBox error={error} />
        <button type="submit" disabled={!password || password !== again}>
          Change password
        </button>
      </form>
      {notice && (
        <p class="notice" role="status">
          {notice}
        </p>
      )}
    </section>
  );
}
