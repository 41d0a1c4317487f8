// Tags of a run, a registered model or a model version: user tags editable (add, edit a
// value, delete, through the owner's set/delete calls); MLflow's own `mlflow.*` tags
// listed apart, read-only.
import { useState } from 'preact/hooks';
import type { KeyValue } from '../api/types';
import { ErrorBox } from './common';

export const isSystemTag = (key: string) => key.startsWith('mlflow.');

export function TagsEditor(props: {
  tags: KeyValue[];
  onSet: (key: string, value: string) => Promise<unknown>;
  onDelete: (key: string) => Promise<unknown>;
  /** Called after a change was saved, to reload the owner. */
  onChange: () => void;
  /** The table's accessible name (default `tags`). */
  label?: string;
  /** Why the tags cannot be changed (the user lacks the permission): no edit controls. */
  readOnly?: string;
}) {
  const ro = props.readOnly;
  const user = props.tags.filter((t) => !isSystemTag(t.key));
  const system = props.tags.filter((t) => isSystemTag(t.key) && t.key !== 'mlflow.note.content');
  const [editing, setEditing] = useState<string | null>(null);
  const [draft, setDraft] = useState('');
  const [newKey, setNewKey] = useState('');
  const [newValue, setNewValue] = useState('');
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);

  const run = async (action: () => Promise<unknown>) => {
    setBusy(true);
    setError(null);
    try {
      await action();
      props.onChange();
      return true;
    } catch (e) {
      setError(e);
      return false;
    } finally {
      setBusy(false);
    }
  };

  const save = async (key: string) => {
    if (await run(() => props.onSet(key, draft))) setEditing(null);
  };
  const add = async (e: Event) => {
    e.preventDefault();
    const key = newKey.trim();
    if (!key) return;
    if (isSystemTag(key)) {
      setError(new Error('mlflow.* tags are MLflow’s own; choose another key.'));
      return;
    }
    if (await run(() => props.onSet(key, newValue))) {
      setNewKey('');
      setNewValue('');
    }
  };

  return (
    <div class="tags">
      <ErrorBox error={error} />
      {user.length === 0 ? (
        <p class="muted">No tags.</p>
      ) : (
        <table class="kv" aria-label={props.label ?? 'tags'}>
          <tbody>
            {user.map((t) => (
              <tr key={t.key} data-tag={t.key}>
                <th scope="row">{t.key}</th>
                {editing === t.key ? (
                  <td>
                    <form
                      class="inline-form"
                      onSubmit={(e) => {
                        e.preventDefault();
                        save(t.key);
                      }}
                    >
                      <input
                        aria-label={`value of ${t.key}`}
                        value={draft}
                        onInput={(e) => setDraft(e.currentTarget.value)}
                        onKeyDown={(e) => e.key === 'Escape' && setEditing(null)}
                        // biome-ignore lint/a11y/noAutofocus: the user just asked to edit this value
                        autoFocus
                      />
                      <button type="submit" disabled={busy}>
                        Save
                      </button>
                      <button type="button" onClick={() => setEditing(null)}>
                        Cancel
                      </button>
                    </form>
                  </td>
                ) : (
                  <td>
                    <span class="tag-value">{t.value}</span>
                    {!ro && (
                      <span class="row-actions">
                        <button
                          type="button"
                          class="link"
                          aria-label={`edit tag ${t.key}`}
                          onClick={() => {
                            setEditing(t.key);
                            setDraft(t.value);
                          }}
                        >
                          Edit
                        </button>
                        <button
                          type="button"
                          class="link danger"
                          aria-label={`delete tag ${t.key}`}
                          disabled={busy}
                          onClick={() => run(() => props.onDelete(t.key))}
                        >
                          Delete
                        </button>
                      </span>
                    )}
                  </td>
                )}
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {ro ? (
        <p class="muted small read-only">Read only: {ro}.</p>
      ) : (
        <form class="inline-form add-tag" onSubmit={add} aria-label="add tag">
          <input
            aria-label="new tag key"
            placeholder="key"
            value={newKey}
            onInput={(e) => setNewKey(e.currentTarget.value)}
          />
          <input
            aria-label="new tag value"
            placeholder="value"
            value={newValue}
            onInput={(e) => setNewValue(e.currentTarget.value)}
          />
          <button type="submit" disabled={busy || !newKey.trim()}>
            Add tag
          </button>
        </form>
      )}
      {system.length > 0 && (
        <details class="system-tags">
          <summary>MLflow system tags ({system.length})</summary>
          <table class="kv" aria-label="system tags">
            <tbody>
              {system.map((t) => (
                <tr key={t.key}>
                  <th scope="row">{t.key}</th>
                  <td class={t.value.length > 200 ? 'mono small' : undefined}>{t.value}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </details>
      )}
    </div>
  );
}
