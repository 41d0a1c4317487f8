// The runs table's state, kept in the URL query so that a link reproduces the view:
// ?filter=<search string>&sort=<column>&desc=1&cols=params.lr,metrics.loss&sel=<run ids>
//  &view=DELETED_ONLY|ALL (the runs' lifecycle, `run_view_type`; active runs by default)
// One experiment's runs are at /experiments/<id>, several experiments' at /runs?exp=<id>,<id>.

import type { ViewType } from '../../api/types';
import { decodeList, encodeList } from '../../urlList';

export interface Sort {
  /** A column id: `attributes.start_time`, `params.lr`, `metrics.loss`, `tags.x`. */
  key: string;
  desc: boolean;
}

export interface RunsState {
  filter: string;
  sort: Sort | null;
  columns: string[];
  selected: string[];
  view: ViewType;
}

export const DEFAULT_SORT: Sort = { key: 'attributes.start_time', desc: true };

function viewType(value: string | null): ViewType {
  return value === 'DELETED_ONLY' || value === 'ALL' ? value : 'ACTIVE_ONLY';
}

export function decodeRunsState(search: string): RunsState {
  const q = new URLSearchParams(search);
  const sortKey = q.get('sort');
  return {
    filter: q.get('filter') ?? '',
    sort: sortKey ? { key: sortKey, desc: q.get('desc') === '1' } : null,
    columns: decodeList(q.get('cols')),
    selected: decodeList(q.get('sel')),
    view: viewType(q.get('view')),
  };
}

export function encodeRunsState(state: RunsState): string {
  const q = new URLSearchParams();
  if (state.filter) q.set('filter', state.filter);
  if (state.sort) {
    q.set('sort', state.sort.key);
    if (state.sort.desc) q.set('desc', '1');
  }
  if (state.columns.length) q.set('cols', encodeList(state.columns));
  if (state.selected.length) q.set('sel', encodeList(state.selected));
  if (state.view !== 'ACTIVE_ONLY') q.set('view', state.view);
  const s = q.toString();
  return s ? `?${s}` : '';
}

/** The column id as an `order_by` clause of MLflow's search language. Keys of params,
 * metrics and tags are quoted with backticks (they may hold dots, spaces or dashes). */
export function orderByClause(sort: Sort | null): string[] {
  const s = sort ?? DEFAULT_SORT;
  const dot = s.key.indexOf('.');
  const kind = s.key.slice(0, dot);
  const name = s.key.slice(dot + 1);
  const quoted = kind === 'attributes' ? name : `\`${name.replace(/`/g, '')}\``;
  return [`${kind}.${quoted} ${s.desc ? 'DESC' : 'ASC'}`];
}

/** The experiment ids of `/runs?exp=1,2`, in order, without duplicates or blanks. */
export function decodeExperimentIds(value: string | null): string[] {
  return [...new Set((value ?? '').split(',').map((s) => s.trim()))].filter(Boolean);
}

/** The runs table's URL: `/experiments/<id>` for one experiment (unless `multi`, which keeps
 * the `/runs?exp=` form a user opened), `/runs?exp=<ids>` for several. */
export function runsUrl(experimentIds: string[], state: RunsState, multi = false): string {
  const q = encodeRunsState(state);
  if (experimentIds.length === 1 && !multi)
    return `/experiments/${encodeURIComponent(experimentIds[0])}${q}`;
  const exp = `exp=${experimentIds.map(encodeURIComponent).join(',')}`;
  return `/runs?${exp}${q ? `&${q.slice(1)}` : ''}`;
}
