// The runs table of one experiment or several (with an "Experiment" column): virtualised,
// paged through runs/search's page_token, sorted on the server (order_by), filtered in the
// search language (with completion of keys), ticked runs deleted or restored, state in the
// URL.
import { useEffect, useLayoutEffect, useMemo, useRef, useState } from 'preact/hooks';
import { deleteRun, getExperiment, restoreRun, searchRuns } from '../../api/client';
import type { Run, ViewType } from '../../api/types';
import { allowedOnAll } from '../../auth/permissions';
import { authMode, useMyPermissions } from '../../auth/session';
import { ErrorBox, StatusBadge, useLoad } from '../../components/common';
import { PermissionsPanel } from '../../components/PermissionsPanel';
import { type Column, VirtualTable } from '../../components/VirtualTable';
import { formatDuration, formatNumber, formatTime, tagValue } from '../../format';
import { Link, navigate } from '../../router';
import { bulkMessage, runBulk } from './bulk';
import { pickerGroups, tagKeysByFrequency } from './columns';
import type { CompletionKeys } from './complete';
import { FilterBox } from './FilterBox';
import { decodeRunsState, orderByClause, type RunsState, runsUrl } from './state';

const ONE_EXPERIMENT = 'The chart and the comparison take runs of one experiment';
// A small first page shows rows soonest; later pages stay small enough that parsing and
// rendering one never blocks scrolling for long (bench/ui.sh measures both).
const FIRST_PAGE = 100;
const NEXT_PAGE = 500;

function cellValue(run: Run, column: string): string | number | undefined {
  const dot = column.indexOf('.');
  const kind = column.slice(0, dot);
  const key = column.slice(dot + 1);
  if (kind === 'params') return run.data.params?.find((p) => p.key === key)?.value;
  if (kind === 'metrics') return run.data.metrics?.find((m) => m.key === key)?.value;
  if (kind === 'tags') return tagValue(run.data.tags, key);
  return undefined;
}

export function RunsView(props: {
  experimentIds: string[];
  search: string;
  /** Opened as /runs?exp=…: stay on that form even with one experiment. */
  multi?: boolean;
}) {
  const ids = props.experimentIds;
  const multi = ids.length > 1;
  const state = useMemo(() => decodeRunsState(props.search), [props.search]);
  const [experiments] = useLoad(() => Promise.all(ids.map(getExperiment)), [ids.join(',')]);
  const names = new Map((experiments ?? []).map((x) => [x.experiment_id, x.name]));
  const [rows, setRows] = useState<Run[]>([]);
  const [error, setError] = useState<unknown>(null);
  const [loading, setLoading] = useState(false);
  const [filterText, setFilterText] = useState(state.filter);
  const next = useRef<string | undefined>(undefined);
  const generation = useRef(0);
  const busy = useRef(false);
  // Bumped to fetch the rows again (after a delete or restore).
  const [reloads, setReloads] = useState(0);
  const [confirming, setConfirming] = useState(false);
  const [acting, setActing] = useState(false);
  const [notice, setNotice] = useState('');
  const perms = useMyPermissions(ids);

  const update = (patch: Partial<RunsState>) => {
    const s = { ...state, ...patch };
    navigate(runsUrl(ids, s, props.multi), { replace: true });
  };

  const query = {
    experimentIds: ids,
    filter: state.filter,
    orderBy: orderByClause(state.sort),
    viewType: state.view,
  };
  const queryKey = JSON.stringify(query);

  useEffect(() => {
    const gen = ++generation.current;
    setRows([]);
    setError(null);
    setLoading(true);
    busy.current = true;
    next.current = undefined;
    searchRuns({ ...query, maxResults: FIRST_PAGE })
      .then((page) => {
        if (gen !== generation.current) return;
        setRows(page.runs);
        next.current = page.nextPageToken;
      })
      .catch((e) => gen === generation.current && setError(e))
      .finally(() => {
        if (gen === generation.current) {
          busy.current = false;
          setLoading(false);
        }
      });
  }, [queryKey, reloads]);

  useEffect(() => setFilterText(state.filter), [state.filter]);

  const loadMore = () => {
    if (busy.current || !next.current) return;
    const gen = generation.current;
    busy.current = true;
    setLoading(true);
    searchRuns({ ...query, maxResults: NEXT_PAGE, pageToken: next.current })
      .then((page) => {
        if (gen !== generation.current) return;
        setRows((r) => r.concat(page.runs));
        next.current = page.nextPageToken;
      })
      .catch((e) => gen === generation.current && setError(e))
      .finally(() => {
        if (gen === generation.current) {
          busy.current = false;
          setLoading(false);
        }
      });
  };

  // Keys seen in the loaded runs, for the filter's completion (every tag) and the column
  // picker (no `mlflow.` system tags).
  const [keys, completionKeys] = useMemo((): [string[], CompletionKeys] => {
    const params = new Set<string>();
    const metrics = new Set<string>();
    const tags = new Set<string>();
    const sample = rows.slice(0, 2000);
    for (const r of sample) {
      for (const p of r.data.params ?? []) params.add(p.key);
      for (const m of r.data.metrics ?? []) metrics.add(m.key);
      for (const t of r.data.tags ?? []) tags.add(t.key);
    }
    const sorted = (s: Set<string>) => [...s].sort();
    const complete = { params: sorted(params), metrics: sorted(metrics), tags: sorted(tags) };
    return [
      [
        ...complete.params.map((k) => `params.${k}`),
        ...complete.metrics.map((k) => `metrics.${k}`),
        ...tagKeysByFrequency(sample).map((k) => `tags.${k}`),
      ],
      complete,
    ];
  }, [rows]);

  const chosen = state.columns.length
    ? state.columns
    : [
        ...keys.filter((k) => k.startsWith('params.')).slice(0, 4),
        ...keys.filter((k) => k.startsWith('metrics.')).slice(0, 4),
      ];

  const columns: Column<Run>[] = [
    {
      id: 'attributes.status',
      header: 'Status',
      width: 96,
      sortable: true,
      render: (r) => <StatusBadge status={r.info.status} />,
    },
    ...(state.view === 'ACTIVE_ONLY'
      ? []
      : [
          {
            id: 'attributes.lifecycle_stage',
            header: 'State',
            width: 80,
            render: (r: Run) => r.info.lifecycle_stage,
          },
        ]),
    {
      id: 'attributes.run_name',
      header: 'Name',
      width: 220,
      sortable: true,
      title: (r) => r.info.run_name,
      render: (r) => (
        <Link href={`/runs/${encodeURIComponent(r.info.run_id)}`}>
          {r.info.run_name || r.info.run_id}
        </Link>
      ),
    },
    ...(multi
      ? [
          {
            id: 'experiment',
            header: 'Experiment',
            width: 160,
            title: (r: Run) => names.get(r.info.experiment_id) ?? r.info.experiment_id,
            render: (r: Run) => (
              <Link href={`/experiments/${encodeURIComponent(r.info.experiment_id)}`}>
                {names.get(r.info.experiment_id) ?? r.info.experiment_id}
              </Link>
            ),
          },
        ]
      : []),
    {
      id: 'attributes.start_time',
      header: 'Started',
      width: 160,
      sortable: true,
      render: (r) => formatTime(r.info.start_time),
    },
    {
      id: 'duration',
      header: 'Duration',
      width: 90,
      render: (r) => formatDuration(r.info.start_time, r.info.end_time),
    },
    {
      id: 'attributes.user_id',
      header: 'User',
      width: 110,
      sortable: true,
      render: (r) => r.info.user_id || tagValue(r.data.tags, 'mlflow.user'),
    },
    {
      id: 'tags.mlflow.source.name',
      header: 'Source',
      width: 160,
      sortable: true,
      title: (r) => tagValue(r.data.tags, 'mlflow.source.name'),
      render: (r) => tagValue(r.data.tags, 'mlflow.source.name'),
    },
    ...chosen.map(
      (id): Column<Run> => ({
        id,
        header: id,
        width: 130,
        sortable: true,
        render: (r) => {
          const v = cellValue(r, id);
          return typeof v === 'number' ? formatNumber(v) : v;
        },
        title: (r) => {
          const v = cellValue(r, id);
          return v === undefined ? undefined : String(v);
        },
      }),
    ),
  ];

  const selected = new Set(state.selected);
  const toggle = (id: string) => {
    const s = new Set(selected);
    if (s.has(id)) s.delete(id);
    else s.add(id);
    update({ selected: [...s] });
  };
  // The chart and the comparison live under one experiment's path and read its runs: the
  // experiment of the ticked runs (the first experiment when none is loaded), or none when
  // they belong to several.
  const selectedExperiments = new Set(
    rows.filter((r) => selected.has(r.info.run_id)).map((r) => r.info.experiment_id),
  );
  const pageExperiment =
    selectedExperiments.size > 1 ? undefined : ([...selectedExperiments][0] ?? ids[0]);
  const openSelected = (page: 'chart' | 'compare') =>
    pageExperiment &&
    navigate(
      `/experiments/${encodeURIComponent(pageExperiment)}/${page}?runs=${[...selected]
        .map(encodeURIComponent)
        .join(',')}`,
    );
  const toggleAll = (select: boolean) => {
    const s = new Set(selected);
    for (const r of rows) {
      if (select) s.add(r.info.run_id);
      else s.delete(r.info.run_id);
    }
    update({ selected: [...s] });
  };
  // The ticked runs that each action applies to (only loaded rows: their lifecycle is known).
  const deletable = rows.filter(
    (r) => selected.has(r.info.run_id) && r.info.lifecycle_stage !== 'deleted',
  );
  const restorable = rows.filter(
    (r) => selected.has(r.info.run_id) && r.info.lifecycle_stage === 'deleted',
  );
  // Deleting and restoring runs needs MANAGE on each of their experiments.
  const experimentsOf = (targets: Run[]) =>
    targets.length ? new Set(targets.map((r) => r.info.experiment_id)) : ids;
  const canDelete = allowedOnAll(perms, experimentsOf(deletable), (a) => a.delete);
  const canRestore = allowedOnAll(perms, experimentsOf(restorable), (a) => a.delete);
  const canManage = !multi && allowedOnAll(perms, ids, (a) => a.manage).allowed;
  const act = async (verb: string, targets: Run[], fn: (id: string) => Promise<unknown>) => {
    setConfirming(false);
    setActing(true);
    setNotice('');
    const result = await runBulk(
      targets.map((r) => r.info.run_id),
      fn,
    );
    setActing(false);
    setNotice(bulkMessage(verb, result));
    const failed = new Set(result.failed.map((f) => f.id));
    update({ selected: state.selected.filter((id) => failed.has(id)) });
    setReloads((n) => n + 1);
  };
  const onSort = (key: string) => {
    const desc = state.sort?.key === key ? !state.sort.desc : key === 'attributes.start_time';
    update({ sort: { key, desc } });
  };

  return (
    <section class="runs-view">
      <nav class="crumbs">
        <Link href="/">Experiments</Link> /{' '}
        {multi ? (
          ids.map((id, i) => (
            <span key={id}>
              {i > 0 && ', '}
              <Link href={`/experiments/${encodeURIComponent(id)}`}>{names.get(id) ?? id}</Link>
            </span>
          ))
        ) : (
          <span>{names.get(ids[0]) ?? ids[0]}</span>
        )}
      </nav>
      <h1>{multi ? `Runs of ${ids.length} experiments` : (names.get(ids[0]) ?? 'Runs')}</h1>
      <div class="toolbar">
        <form
          class="filter"
          onSubmit={(e) => {
            e.preventDefault();
            update({ filter: filterText.trim() });
          }}
        >
          <FilterBox
            value={filterText}
            onChange={setFilterText}
            keys={completionKeys}
            placeholder="metrics.loss < 0.5 AND params.lr IN ('0.1', '0.01')"
          />
          <button type="submit">Filter</button>
        </form>
        <label>
          Show{' '}
          <select
            aria-label="lifecycle"
            value={state.view}
            onChange={(e) => update({ view: e.currentTarget.value as ViewType, selected: [] })}
          >
            <option value="ACTIVE_ONLY">Active</option>
            <option value="DELETED_ONLY">Deleted</option>
            <option value="ALL">All</option>
          </select>
        </label>
        <ColumnPicker keys={keys} chosen={chosen} onChange={(cols) => update({ columns: cols })} />
        <button
          type="button"
          disabled={selected.size === 0 || !pageExperiment}
          title={pageExperiment ? undefined : ONE_EXPERIMENT}
          onClick={() => openSelected('chart')}
        >
          Chart selected ({selected.size})
        </button>
        <button
          type="button"
          disabled={selected.size < 2 || !pageExperiment}
          title={pageExperiment ? undefined : ONE_EXPERIMENT}
          onClick={() => openSelected('compare')}
        >
          Compare selected ({selected.size})
        </button>
        {state.view !== 'DELETED_ONLY' && (
          <button
            type="button"
            disabled={deletable.length === 0 || acting || !canDelete.allowed}
            title={canDelete.reason}
            onClick={() => setConfirming(true)}
          >
            Delete selected ({deletable.length})
          </button>
        )}
        {state.view !== 'ACTIVE_ONLY' && (
          <button
            type="button"
            disabled={restorable.length === 0 || acting || !canRestore.allowed}
            title={canRestore.reason}
            onClick={() => act('Restored', restorable, restoreRun)}
          >
            Restore selected ({restorable.length})
          </button>
        )}
      </div>
      {authMode.value === 'on' && canManage && <PermissionsPanel type="experiment" id={ids[0]} />}
      {confirming && deletable.length > 0 && canDelete.allowed && (
        <ConfirmDelete
          count={deletable.length}
          onConfirm={() => act('Deleted', deletable, deleteRun)}
          onCancel={() => setConfirming(false)}
        />
      )}
      {notice && (
        <p class="notice" role="status">
          {notice}
        </p>
      )}
      <ErrorBox error={error} />
      <p class="muted" aria-live="polite">
        {rows.length} runs loaded{next.current ? ' (more on scroll)' : ''}
        {loading ? ' · loading…' : ''}
      </p>
      <VirtualTable
        label="runs"
        columns={columns}
        rows={rows}
        rowKey={(r) => r.info.run_id}
        sort={state.sort ?? { key: 'attributes.start_time', desc: true }}
        onSort={onSort}
        onEndReached={loadMore}
        selected={selected}
        onToggle={toggle}
        onToggleAll={toggleAll}
        onOpen={(r) => navigate(`/runs/${encodeURIComponent(r.info.run_id)}`)}
      />
    </section>
  );
}

/** The inline confirmation of a delete; it takes the focus, Escape cancels. */
function ConfirmDelete(props: { count: number; onConfirm: () => void; onCancel: () => void }) {
  const button = useRef<HTMLButtonElement>(null);
  useLayoutEffect(() => button.current?.focus(), []);
  const runs = `${props.count} run${props.count === 1 ? '' : 's'}`;
  return (
    <div
      class="confirm"
      role="alertdialog"
      aria-label="confirm delete"
      onKeyDown={(e) => e.key === 'Escape' && props.onCancel()}
    >
      <span>Delete {runs}? They can be restored from the Deleted view.</span>
      <button type="button" ref={button} onClick={props.onConfirm}>
        Delete {runs}
      </button>
      <button type="button" onClick={props.onCancel}>
        Cancel
      </button>
    </div>
  );
}

function ColumnPicker(props: {
  keys: string[];
  chosen: string[];
  onChange: (c: string[]) => void;
}) {
  const [text, setText] = useState('');
  const groups = pickerGroups(props.keys, props.chosen, text);
  const chosen = new Set(props.chosen);
  return (
    <details class="picker">
      <summary>Columns ({props.chosen.length})</summary>
      <div class="picker-body">
        <input
          aria-label="find column"
          placeholder="Find a key"
          value={text}
          onInput={(e) => setText(e.currentTarget.value)}
        />
        {groups.map((g) => (
          <div key={g.label} class="picker-group">
            <p class="muted picker-label">
              {g.label} ({g.shown.length + g.more})
            </p>
            <ul aria-label={`${g.label} columns`}>
              {g.shown.map((k) => (
                <li key={k}>
                  <label>
                    <input
                      type="checkbox"
                      checked={chosen.has(k)}
                      onChange={() =>
                        props.onChange(
                          chosen.has(k)
                            ? props.chosen.filter((c) => c !== k)
                            : [...props.chosen, k],
                        )
                      }
                    />{' '}
                    {k}
                  </label>
                </li>
              ))}
            </ul>
            {g.more > 0 && <p class="muted">{g.more} more…</p>}
          </div>
        ))}
      </div>
    </details>
  );
}
