// The run's description (the `mlflow.note.content` tag): markdown rendered safely by
// markdown.tsx (a syntax tree to Preact elements, no HTML strings), editable in a textarea.
import { useMemo, useState } from 'preact/hooks';
import { deleteTag, setTag } from '../../api/client';
import { ErrorBox } from '../../components/common';
import { renderMarkdown } from './markdown';

export const NOTE_TAG = 'mlflow.note.content';

export function Description(props: {
  runId: string;
  text?: string;
  onChange: () => void;
  /** Why the description cannot be changed: no edit button. */
  readOnly?: string;
}) {
  const [editing, setEditing] = useState(false);
  const [draft, setDraft] = useState('');
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const rendered = useMemo(
    () => (props.text ? renderMarkdown(props.text) : undefined),
    [props.text],
  );

  const save = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      if (draft.trim()) await setTag(props.runId, NOTE_TAG, draft);
      else if (props.text !== undefined) await deleteTag(props.runId, NOTE_TAG);
      setEditing(false);
      props.onChange();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  if (editing)
    return (
      <form class="description-edit" onSubmit={save}>
        <ErrorBox error={error} />
        <textarea
          aria-label="description"
          rows={8}
          value={draft}
          onInput={(e) => setDraft(e.currentTarget.value)}
          onKeyDown={(e) => e.key === 'Escape' && setEditing(false)}
          // biome-ignore lint/a11y/noAutofocus: the user just asked to edit the description
          autoFocus
        />
        <p class="muted small">Markdown (GitHub flavour). HTML is shown as text.</p>
        <div class="actions">
          <button type="submit" disabled={busy}>
            Save description
          </button>
          <button type="button" onClick={() => setEditing(false)}>
            Cancel
          </button>
        </div>
      </form>
    );
  return (
    <div class="description-view">
      {props.text ? (
        <div class="description">{rendered}</div>
      ) : (
        <p class="muted">No description.</p>
      )}
      {!props.readOnly && (
        <button
          type="button"
          onClick={() => {
            setDraft(props.text ?? '');
            setEditing(true);
          }}
        >
          {props.text ? 'Edit description' : 'Add description'}
        </button>
      )}
    </div>
  );
}
