// Experiments: search by name, create, rename, delete and restore; tick several to open
// their runs in one table (/runs?exp=…).
import { useState } from 'preact/hooks';
import {
  createExperiment,
  deleteExperiment,
  experimentNameFilter,
  renameExperiment,
  restoreExperiment,
  searchExperiments,
} from '../../api/client';
import type { Experiment, ViewType } from '../../api/types';
import { type ExperimentActions, experimentActions, UNRESTRICTED } from '../../auth/permissions';
import { useMyPermissions } from '../../auth/session';
import { ErrorBox, useLoad } from '../../components/common';
import { formatTime } from '../../format';
import { Link, navigate } from '../../router';
import { decodeRunsState, runsUrl } from '../runs/state';

export function ExperimentsView(props: { query: URLSearchParams }) {
  const search = props.query.get('q') ?? '';
  const view = (props.query.get('view') as ViewType) || 'ACTIVE_ONLY';
  const [text, setText] = useState(search);
  const [newName, setNewName] = useState('');
  const [actionError, setActionError] = useState<unknown>(null);
  const [editing, setEditing] = useState<string | null>(null);
  const [ticked, setTicked] = useState<string[]>([]);
  const [experiments, loadError, reload] = useLoad(
    () => searchExperiments({ filter: experimentNameFilter(search), viewType: view }),
    [search, view],
  );

  // Only the ticked experiments still listed (a new search may hide some).
  const listed = new Set((experiments ?? []).map((x) => x.experiment_id));
  const open = ticked.filter((id) => listed.has(id));
  // What the user may do on each row (with --auth): asked for the first rows only; the
  // server still refuses what the rest may not do.
  const checked = (experiments ?? []).slice(0, PERMISSION_ROWS).map((x) => x.experiment_id);
  const perms = useMyPermissions(checked);
  const actionsOf = (id: string, index: number): ExperimentActions =>
    experimentActions(index < PERMISSION_ROWS ? perms.get(id) : UNRESTRICTED);

  const setQuery = (q: string, v: ViewType) => {
    const p = new URLSearchParams();
    if (q) p.set('q', q);
    if (v !== 'ACTIVE_ONLY') p.set('view', v);
    const s = p.toString();
    navigate(`/${s ? `?${s}` : ''}`, { replace: true });
  };

  const act = async (f: () => Promise<unknown>) => {
    setActionError(null);
    try {
      await f();
      reload();
    } catch (e) {
      setActionError(e);
    }
  };

  return (
    <section>
      <h1>Experiments</h1>
      <div class="toolbar">
        <form
          onSubmit={(e) => {
            e.preventDefault();
            setQuery(text, view);
          }}
        >
          <input
            type="search"
            aria-label="search experiments"
            placeholder="Search by name"
            value={text}
            onInput={(e) => setText(e.currentTarget.value)}
          />
          <button type="submit">Search</button>
        </form>
        <label>
          Show{' '}
          <select
            aria-label="lifecycle"
            value={view}
            onChange={(e) => setQuery(search, e.currentTarget.value as ViewType)}
          >
            <option value="ACTIVE_ONLY">Active</option>
            <option value="DELETED_ONLY">Deleted</option>
            <option value="ALL">All</option>
          </select>
        </label>
        <button
          type="button"
          disabled={open.length === 0}
          onClick={() => navigate(runsUrl(open, decodeRunsState('')))}
        >
          Open runs ({open.length})
        </button>
        <form
          class="push"
          onSubmit={(e) => {
            e.preventDefault();
            const name = newName.trim();
            if (!name) return;
            act(async () => {
              const id = await createExperiment(name);
              setNewName('');
              navigate(`/experiments/${encodeURIComponent(id)}`);
            });
          }}
        >
          <input
            aria-label="new experiment name"
            placeholder="New experiment name"
            value={newName}
            onInput={(e) => setNewName(e.currentTarget.value)}
          />
          <button type="submit">Create</button>
        </form>
      </div>
      <ErrorBox error={actionError ?? loadError} />
      <table class="grid" aria-label="experiments">
        <thead>
          <tr>
            <th>
              <span class="visually-hidden">Select</span>
            </th>
            <th>Name</th>
            <th>ID</th>
            <th>Last update</th>
            <th>State</th>
            <th>Actions</th>
          </tr>
        </thead>
        <tbody>
          {(experiments ?? []).map((x, i) => (
            <ExperimentRow
              key={x.experiment_id}
              x={x}
              can={actionsOf(x.experiment_id, i)}
              editing={editing === x.experiment_id}
              ticked={ticked.includes(x.experiment_id)}
              onTick={() =>
                setTicked((t) =>
                  t.includes(x.experiment_id)
                    ? t.filter((id) => id !== x.experiment_id)
                    : [...t, x.experiment_id],
                )
              }
              onEdit={() => setEditing(x.experiment_id)}
              onRename={(name) =>
                act(async () => {
                  await renameExperiment(x.experiment_id, name);
                  setEditing(null);
                })
              }
              onCancel={() => setEditing(null)}
              onDelete={() => act(() => deleteExperiment(x.experiment_id))}
              onRestore={() => act(() => restoreExperiment(x.experiment_id))}
            />
          ))}
        </tbody>
      </table>
      {experiments && experiments.length === 0 && <p class="muted">No experiments.</p>}
    </section>
  );
}

/** How many rows' permissions the list asks for. */
const PERMISSION_ROWS = 200;

function ExperimentRow(props: {
  x: Experiment;
  can: ExperimentActions;
  editing: boolean;
  ticked: boolean;
  onTick: () => void;
  onEdit: () => void;
  onRename: (name: string) => void;
  onCancel: () => void;
  onDelete: () => void;
  onRestore: () => void;
}) {
  const { x, can } = props;
  const [name, setName] = useState(x.name);
  return (
    <tr data-experiment={x.experiment_id}>
      <td>
        <input
          type="checkbox"
          aria-label={`select experiment ${x.name}`}
          checked={props.ticked}
          onChange={props.onTick}
        />
      </td>
      <td>
        {props.editing ? (
          <form
            onSubmit={(e) => {
              e.preventDefault();
              props.onRename(name.trim());
            }}
          >
            <input
              aria-label="experiment name"
              value={name}
              // biome-ignore lint/a11y/noAutofocus: the rename field takes focus when opened
              autoFocus
              onInput={(e) => setName(e.currentTarget.value)}
              onKeyDown={(e) => e.key === 'Escape' && props.onCancel()}
            />
            <button type="submit">Save</button>
            <button type="button" onClick={props.onCancel}>
              Cancel
            </button>
          </form>
        ) : (
          <Link href={`/experiments/${encodeURIComponent(x.experiment_id)}`}>{x.name}</Link>
        )}
      </td>
      <td class="mono">{x.experiment_id}</td>
      <td>{formatTime(x.last_update_time)}</td>
      <td>{x.lifecycle_stage}</td>
      <td class="actions">
        {!props.editing && (
          <button
            type="button"
            disabled={!can.update.allowed}
            title={can.update.reason}
            onClick={props.onEdit}
          >
            Rename
          </button>
        )}
        {x.lifecycle_stage === 'deleted' ? (
          <button
            type="button"
            disabled={!can.delete.allowed}
            title={can.delete.reason}
            onClick={props.onRestore}
          >
            Restore
          </button>
        ) : (
          <button
            type="button"
            disabled={!can.delete.allowed}
            title={can.delete.reason}
            onClick={props.onDelete}
          >
            Delete
          </button>
        )}
      </td>
    </tr>
  );
}
