// A user's access tokens as a table with a revoke button per row: the signed-in user's
// own (TokensView) and, for admins, another user's (UserView).
import type { AccessToken } from '../../api/types';
import { formatTime } from '../../format';

export function TokenTable(props: {
  tokens: AccessToken[];
  label: string;
  onRevoke: (token: AccessToken) => void;
}) {
  if (props.tokens.length === 0) return <p class="muted">No tokens.</p>;
  return (
    <table class="grid" aria-label={props.label}>
      <thead>
        <tr>
          <th>Name</th>
          <th>Created</th>
          <th>Expires</th>
          <th>Actions</th>
        </tr>
      </thead>
      <tbody>
        {props.tokens.map((t) => (
          <tr key={t.id} data-token={t.name}>
            <td>{t.name}</td>
            <td>{formatTime(t.created_at)}</td>
            <td>{t.expires_at ? formatTime(t.expires_at) : 'never'}</td>
            <td>
              <button
                type="button"
                class="danger"
                aria-label={`revoke token ${t.name}`}
                onClick={() => props.onRevoke(t)}
              >
                Revoke
              </button>
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
