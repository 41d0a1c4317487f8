// The signed-in user's access tokens (`/tokens`), for scripts and CI
// (`MLFLOW_TRACKING_TOKEN`): create with a name and an optional expiry (the secret is
// shown once, with a copy button), list, revoke.
import { useState } from 'preact/hooks';
import { createToken, listTokens, revokeToken } from '../../api/client';
import { parseExpiryDays } from '../../auth/tokens';
import { ErrorBox, useLoad } from '../../components/common';
import { TokenTable } from './TokenTable';

export function TokensView() {
  const [tokens, loadError, reload] = useLoad(() => listTokens(), []);
  const [error, setError] = useState<unknown>(null);
  const [name, setName] = useState('');
  const [days, setDays] = useState('');
  const [created, setCreated] = useState<{ name: string; secret: string } | null>(null);
  const [copied, setCopied] = useState(false);
  const [notice, setNotice] = useState('');
  const expiry = parseExpiryDays(days);

  const create = async (e: Event) => {
    e.preventDefault();
    const n = name.trim();
    if (!n || expiry.error) return;
    setError(null);
    setNotice('');
    setCopied(false);
    try {
      const r = await createToken(n, expiry.days);
      setCreated({ name: r.token.name, secret: r.secret });
      setName('');
      setDays('');
      reload();
    } catch (err) {
      setError(err);
    }
  };
  const copy = async () => {
    if (!created) return;
    try {
      await navigator.clipboard.writeText(created.secret);
      setCopied(true);
    } catch (err) {
      setError(err);
    }
  };
  const revoke = async (id: string, tokenName: string) => {
    setError(null);
    setNotice('');
    try {
      await revokeToken(id);
      setNotice(`Token ${tokenName} revoked.`);
      reload();
    } catch (err) {
      setError(err);
    }
  };

  return (
    <section>
      <h1>Access tokens</h1>
      <p class="muted">
        A token signs scripts and CI in as you: set <code>MLFLOW_TRACKING_TOKEN</code> to it.
      </p>
      <form class="toolbar" aria-label="create token" onSubmit={create}>
        <input
          aria-label="token name"
          placeholder="Name, e.g. ci"
          value={name}
          onInput={(e) => setName(e.currentTarget.value)}
        />
        <label>
          Expires in{' '}
          <input
            aria-label="expires in days"
            class="narrow"
            inputMode="numeric"
            placeholder="never"
            value={days}
            onInput={(e) => setDays(e.currentTarget.value)}
          />{' '}
          days
        </label>
        <button type="submit" disabled={!name.trim() || !!expiry.error}>
          Create token
        </button>
      </form>
      {expiry.error && <p class="muted small">{expiry.error}</p>}
      {created && (
        <section class="secret" aria-label="new token">
          <p>
            <strong>Copy the token {created.name} now:</strong> it is shown only once and cannot be
            recovered.
          </p>
          <code class="mono secret-value">{created.secret}</code>{' '}
          <button type="button" onClick={copy}>
            {copied ? 'Copied' : 'Copy'}
          </button>{' '}
          <button type="button" onClick={() => setCreated(null)}>
            Done
          </button>
        </section>
      )}
      {notice && (
        <p class="notice" role="status">
          {notice}
        </p>
      )}
      <ErrorBox error={error ?? loadError} />
      {tokens && (
        <TokenTable tokens={tokens} label="tokens" onRevoke={(t) => revoke(t.id, t.name)} />
      )}
    </section>
  );
}
