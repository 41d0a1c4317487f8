// The one module that talks to ferroflow: every view calls these typed functions.
// Only ferroflow's HTTP API is used (MLflow's REST API under /ajax-api/2.0/mlflow).
import type {
  AccessToken,
  AuthUser,
  Experiment,
  FileInfo,
  LoggedModel,
  Metric,
  ModelVersion,
  MyPermission,
  PermissionLevel,
  RegisteredModel,
  ResourceType,
  Run,
  Session,
  UserSummary,
  ViewType,
} from './types';

export const API = '/ajax-api/2.0/mlflow';
/** ferroflow's own UI endpoints (whole charts, live points); MLflow has no such paths. */
export const FERROFLOW_API = '/ajax-api/ferroflow/v1';
export const ARTIFACTS = '/ajax-api/2.0/mlflow-artifacts/artifacts';

/** An error answer from the server, with its MLflow error code and message. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

type Query = Record<string, string | number | boolean | string[] | undefined>;

export function queryString(query: Query): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value === undefined) continue;
    if (Array.isArray(value)) for (const v of value) params.append(key, v);
    else params.append(key, String(value));
  }
  const text = params.toString();
  return text ? `?${text}` : '';
}

// ---- the signed-in session (only with `--auth`)

/** The session's CSRF token, sent with every write once known (`X-CSRF-Token`). */
let csrfToken: string | undefined;
/** Called on a 401 from any call but the login and session ones: the UI signs in again. */
let onUnauthenticated: (() => void) | undefined;

export function setCsrfToken(token: string | undefined) {
  csrfToken = token || undefined;
}
export function setUnauthenticatedHandler(handler: (() => void) | undefined) {
  onUnauthenticated = handler;
}

type Method = 'GET' | 'POST' | 'PATCH' | 'DELETE';

/** The headers of one call: JSON for bodies, and the CSRF token on writes. */
export function requestHeaders(method: Method, token: string | undefined): Record<string, string> {
  if (method === 'GET') return {};
  const headers: Record<string, string> = { 'Content-Type': 'application/json' };
  if (token) headers['X-CSRF-Token'] = token;
  return headers;
}

async function call<T>(
  method: Method,
  path: string,
  body?: object,
  prefix = API,
  opts: { expect401?: boolean; retried?: boolean } = {},
): Promise<T> {
  const url =
    method === 'GET'
      ? `${prefix}/${path}${queryString((body ?? {}) as Query)}`
      : `${prefix}/${path}`;
  const response = await fetch(url, {
    method,
    // POST, PATCH and DELETE carry a JSON body, as MLflow's client sends them.
    headers: requestHeaders(method, csrfToken),
    body: method === 'GET' ? undefined : JSON.stringify(body ?? {}),
  });
  const text = await response.text();
  let json: unknown = {};
  try {
    json = text ? JSON.parse(text) : {};
  } catch {
    json = { message: text };
  }
  if (!response.ok) {
    const e = json as { error_code?: string; message?: string };
    if (response.status === 401 && !opts.expect401) onUnauthenticated?.();
    // A write refused for its CSRF token: the session changed under this page (signed in
    // again in another tab). Refused before it ran, so it is retried once with the new one.
    if (
      response.status === 403 &&
      method !== 'GET' &&
      !opts.retried &&
      /CSRF/.test(e.message ?? '') &&
      (await refreshCsrfToken())
    )
      return call<T>(method, path, body, prefix, { ...opts, retried: true });
    throw new ApiError(
      response.status,
      e.error_code ?? 'UNKNOWN',
      e.message ?? `HTTP ${response.status}`,
    );
  }
  return json as T;
}

/** Reads the session's CSRF token again; whether it changed. */
async function refreshCsrfToken(): Promise<boolean> {
  const before = csrfToken;
  try {
    const r = await fetch(`${FERROFLOW_API}/session`);
    if (!r.ok) return false;
    const s = (await r.json()) as { csrf_token?: string | null };
    setCsrfToken(s.csrf_token ?? undefined);
  } catch {
    return false;
  }
  return csrfToken !== undefined && csrfToken !== before;
}

// ---- experiments

export async function searchExperiments(opts: {
  filter?: string;
  viewType?: ViewType;
  maxResults?: number;
}): Promise<Experiment[]> {
  const r = await call<{ experiments?: Experiment[] }>('POST', 'experiments/search', {
    filter: opts.filter || undefined,
    view_type: opts.viewType ?? 'ACTIVE_ONLY',
    max_results: opts.maxResults ?? 1000,
    order_by: ['last_update_time DESC'],
  });
  return r.experiments ?? [];
}

export async function getExperiment(id: string): Promise<Experiment> {
  const r = await call<{ experiment: Experiment }>('GET', 'experiments/get', { experiment_id: id });
  return r.experiment;
}

export async function createExperiment(name: string): Promise<string> {
  const r = await call<{ experiment_id: string }>('POST', 'experiments/create', { name });
  return r.experiment_id;
}

export const renameExperiment = (id: string, newName: string) =>
  call('POST', 'experiments/update', { experiment_id: id, new_name: newName });
export const deleteExperiment = (id: string) =>
  call('POST', 'experiments/delete', { experiment_id: id });
export const restoreExperiment = (id: string) =>
  call('POST', 'experiments/restore', { experiment_id: id });

/** `name LIKE '%text%'` (case-insensitive), quoting the text for the search language. */
export function experimentNameFilter(text: string): string {
  const t = text.trim();
  return t ? `name ILIKE '%${t.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}%'` : '';
}

/** A search box's text as a filter: text with a comparison (`tags.team = 'vision'`,
 * `name LIKE 'cls-%'`) is a filter of the search language as typed; plain text matches
 * the names that contain it. */
export function nameOrFilter(text: string): string {
  return /(=|\bI?LIKE\b)/i.test(text) ? text.trim() : experimentNameFilter(text);
}

// ---- runs

export interface RunsPage {
  runs: Run[];
  nextPageToken?: string;
}

export async function searchRuns(opts: {
  experimentIds: string[];
  filter?: string;
  orderBy?: string[];
  maxResults?: number;
  pageToken?: string;
  viewType?: ViewType;
}): Promise<RunsPage> {
  const r = await call<{ runs?: Run[]; next_page_token?: string }>('POST', 'runs/search', {
    experiment_ids: opts.experimentIds,
    filter: opts.filter || undefined,
    order_by: opts.orderBy?.length ? opts.orderBy : undefined,
    max_results: opts.maxResults ?? 1000,
    page_token: opts.pageToken,
    run_view_type: opts.viewType ?? 'ACTIVE_ONLY',
  });
  return { runs: r.runs ?? [], nextPageToken: r.next_page_token || undefined };
}

export async function getRun(runId: string): Promise<Run> {
  const r = await call<{ run: Run }>('GET', 'runs/get', { run_id: runId });
  return r.run;
}

/** The runs with these ids, in one `runs/search` call. */
export async function getRuns(experimentIds: string[], runIds: string[]): Promise<Run[]> {
  if (runIds.length === 0) return [];
  const ids = runIds.map((id) => `'${id.replace(/'/g, '')}'`).join(', ');
  const page = await searchRuns({
    experimentIds,
    filter: `attributes.run_id IN (${ids})`,
    maxResults: runIds.length,
    viewType: 'ALL',
  });
  return page.runs;
}

export const setTag = (runId: string, key: string, value: string) =>
  call('POST', 'runs/set-tag', { run_id: runId, key, value });
export const deleteTag = (runId: string, key: string) =>
  call('POST', 'runs/delete-tag', { run_id: runId, key });
/** Marks a run deleted (MLflow's soft delete: `runs/restore` brings it back). */
export const deleteRun = (runId: string) => call('POST', 'runs/delete', { run_id: runId });
export const restoreRun = (runId: string) => call('POST', 'runs/restore', { run_id: runId });

/** A search-language string literal: `'text'` with `\\` and `'` escaped. */
export function quote(text: string): string {
  return `'${text.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

/** The runs whose `mlflow.parentRunId` tag is `parentId` (at most 1000). */
export async function childRuns(experimentId: string, parentId: string): Promise<Run[]> {
  const page = await searchRuns({
    experimentIds: [experimentId],
    filter: `tags.mlflow.parentRunId = ${quote(parentId)}`,
    orderBy: ['attributes.start_time DESC'],
    viewType: 'ALL',
  });
  return page.runs;
}

// ---- logged models (MLflow 3)

/** The logged models whose source run is `runId`. */
export async function loggedModelsOfRun(
  experimentId: string,
  runId: string,
): Promise<LoggedModel[]> {
  const r = await call<{ models?: LoggedModel[] }>('POST', 'logged-models/search', {
    experiment_ids: [experimentId],
    filter: `source_run_id = ${quote(runId)}`,
    max_results: 100,
  });
  return r.models ?? [];
}

// ---- metrics

/** Every listed run's history of one metric, in one call (at most 100 runs). */
export async function metricHistoryBulk(
  runIds: string[],
  metricKey: string,
  maxResults = 2500,
): Promise<Metric[]> {
  const r = await call<{ metrics?: Metric[] }>('GET', 'metrics/get-history-bulk-interval', {
    run_ids: runIds,
    metric_key: metricKey,
    max_results: maxResults,
  });
  return r.metrics ?? [];
}

/** One (run, metric) series of a chart, as columns in step order. */
export interface ChartSeries {
  run_id: string;
  key: string;
  /** Stored points in the requested range (`steps.length` of them were sent). */
  total_points: number;
  /** Whether the points are per-bucket min/max rather than all of them. */
  sampled: boolean;
  last_step?: number;
  steps: number[];
  timestamps: number[];
  values: number[];
}

/** Values arrive as numbers, or as "NaN" / "Infinity" / "-Infinity". */
function decodeSeries(s: ChartSeries): ChartSeries {
  return { ...s, values: s.values.map((v) => (typeof v === 'number' ? v : Number(v))) };
}

/** A whole chart in one call: every run × metric, downsampled on the server to at most
 * two points (min and max) per bucket, raw when shorter (`charts/series`). */
export async function chartSeries(opts: {
  runIds: string[];
  metricKeys: string[];
  range?: [number, number] | null;
  buckets?: number;
}): Promise<ChartSeries[]> {
  const r = await call<{ series?: ChartSeries[] }>(
    'POST',
    'charts/series',
    {
      run_ids: opts.runIds,
      metric_keys: opts.metricKeys,
      start_step: opts.range?.[0],
      end_step: opts.range?.[1],
      buckets: opts.buckets ?? 1000,
    },
    FERROFLOW_API,
  );
  return (r.series ?? []).map(decodeSeries);
}

/** Subscribes to new points of these series (`charts/live`, server-sent events); returns
 * the function that closes the stream. The browser reconnects a dropped stream by itself;
 * `onReconnect` is then called, since points logged in between were not pushed. */
export function subscribeChart(
  runIds: string[],
  metricKeys: string[],
  onPoints: (series: ChartSeries[]) => void,
  onReconnect?: () => void,
): () => void {
  const url = `${FERROFLOW_API}/charts/live${queryString({ run_ids: runIds, metric_keys: metricKeys })}`;
  const source = new EventSource(url);
  let opened = false;
  source.addEventListener('open', () => {
    if (opened) onReconnect?.();
    opened = true;
  });
  source.addEventListener('points', (e) => {
    const data = JSON.parse((e as MessageEvent<string>).data) as { series?: ChartSeries[] };
    onPoints((data.series ?? []).map(decodeSeries));
  });
  source.addEventListener('error', () => {
    // EventSource reconnects by itself; a server-side `error` event ends this stream.
  });
  return () => source.close();
}

// ---- artifacts

export async function listArtifacts(runId: string, path?: string): Promise<FileInfo[]> {
  const r = await call<{ files?: FileInfo[] }>('GET', 'artifacts/list', {
    run_id: runId,
    path: path || undefined,
  });
  return r.files ?? [];
}

/** One level of a logged model's files (MLflow 3 models live outside the run's artifacts). */
export async function listLoggedModelArtifacts(
  modelId: string,
  path?: string,
): Promise<FileInfo[]> {
  const r = await call<{ files?: FileInfo[] }>(
    'GET',
    `logged-models/${encodeURIComponent(modelId)}/artifacts/directories`,
    { artifact_directory_path: path || undefined },
  );
  return r.files ?? [];
}

/** A logged model's file: through the artifact proxy when its URI is `mlflow-artifacts:`,
 * else through `logged-models/<id>/artifacts/files` (any store). */
export function loggedModelFileUrl(
  modelId: string,
  artifactUri: string | undefined,
  path: string,
): string {
  return (
    artifactUrl(artifactUri, path) ??
    `${API}/logged-models/${encodeURIComponent(modelId)}/artifacts/files${queryString({ artifact_file_path: path })}`
  );
}

/** The artifact proxy's URL of a run's artifact, for `mlflow-artifacts:/` artifact URIs
 * (`mlflow-artifacts:/<exp>/<run>/artifacts`); `undefined` for any other store. */
export function artifactUrl(artifactUri: string | undefined, path: string): string | undefined {
  if (!artifactUri) return undefined;
  const m = /^mlflow-artifacts:(?:\/\/[^/]*)?\/*(.*)$/.exec(artifactUri);
  if (!m) return undefined;
  const base = m[1].replace(/\/+$/, '');
  const parts = [...base.split('/'), ...path.split('/')].filter(Boolean);
  return `${ARTIFACTS}/${parts.map(encodeURIComponent).join('/')}`;
}

/** Fetches an artifact's text through the proxy; `undefined` when it does not exist (404).
 * Refuses files over `maxBytes` (by Content-Length, then by the text read). */
export async function fetchArtifactText(
  url: string,
  maxBytes = 1024 * 1024,
): Promise<string | undefined> {
  const r = await fetch(url);
  if (r.status === 404) return undefined;
  if (r.status === 401) onUnauthenticated?.();
  if (!r.ok) throw new ApiError(r.status, 'UNKNOWN', `HTTP ${r.status}`);
  const length = Number(r.headers.get('Content-Length') ?? '0');
  if (length > maxBytes) {
    await r.body?.cancel();
    throw new Error(`the file is larger than ${maxBytes} bytes`);
  }
  const text = await r.text();
  if (text.length > maxBytes) throw new Error(`the file is larger than ${maxBytes} bytes`);
  return text;
}

// ---- registry

export async function searchRegisteredModels(filter?: string): Promise<RegisteredModel[]> {
  const r = await call<{ registered_models?: RegisteredModel[] }>(
    'GET',
    'registered-models/search',
    { filter: filter || undefined, max_results: 1000 },
  );
  return r.registered_models ?? [];
}

export async function getRegisteredModel(name: string): Promise<RegisteredModel> {
  const r = await call<{ registered_model: RegisteredModel }>('GET', 'registered-models/get', {
    name,
  });
  return r.registered_model;
}

export async function searchModelVersions(name: string): Promise<ModelVersion[]> {
  const r = await call<{ model_versions?: ModelVersion[] }>('GET', 'model-versions/search', {
    filter: `name = '${name.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`,
    max_results: 1000,
  });
  return r.model_versions ?? [];
}

export const transitionStage = (name: string, version: string, stage: string, archive = false) =>
  call('POST', 'model-versions/transition-stage', {
    name,
    version,
    stage,
    archive_existing_versions: archive,
  });

export const setAlias = (name: string, alias: string, version: string) =>
  call('POST', 'registered-models/alias', { name, alias, version });
export const deleteAlias = (name: string, alias: string) =>
  call('DELETE', 'registered-models/alias', { name, alias });
export const setModelTag = (name: string, key: string, value: string) =>
  call('POST', 'registered-models/set-tag', { name, key, value });
export const deleteModelTag = (name: string, key: string) =>
  call('DELETE', 'registered-models/delete-tag', { name, key });
export const setVersionTag = (name: string, version: string, key: string, value: string) =>
  call('POST', 'model-versions/set-tag', { name, version, key, value });
export const deleteVersionTag = (name: string, version: string, key: string) =>
  call('DELETE', 'model-versions/delete-tag', { name, version, key });

// ---- parameter importance (ferroflow's own endpoint, under FERROFLOW_API)

export interface ParamImportance {
  key: string;
  kind: 'numeric' | 'categorical';
  importance: number;
  correlation: number | null;
  runs_with_value: number;
  distinct_values: number;
}

export interface ParamImportanceAnswer {
  metric_key: string;
  runs_matched: number;
  runs_used: number;
  truncated: boolean;
  params: ParamImportance[];
}

/** Which params matter for `metricKey` over the (active) runs of a search, computed on
 * the server: correlation and a random forest's importance. */
export function paramImportance(opts: {
  experimentIds: string[];
  metricKey: string;
  filter?: string;
}): Promise<ParamImportanceAnswer> {
  return call<ParamImportanceAnswer>(
    'POST',
    'param-importance',
    {
      experiment_ids: opts.experimentIds,
      metric_key: opts.metricKey,
      filter: opts.filter || undefined,
    },
    FERROFLOW_API,
  );
}

// ---- authentication (only with `--auth`; MLflow's auth REST API and ferroflow's own)

/** Signs in; the server sets the HttpOnly session cookie and answers the CSRF token. */
export async function login(username: string, password: string): Promise<Session> {
  const r = await call<Session>('POST', 'login', { username, password }, FERROFLOW_API, {
    expect401: true,
  });
  setCsrfToken(r.csrf_token ?? undefined);
  return r;
}

export async function logout(): Promise<void> {
  try {
    await call('POST', 'logout', {}, FERROFLOW_API, { expect401: true });
  } finally {
    setCsrfToken(undefined);
  }
}

/** The signed-in session; `null` when nobody is signed in (401), `'off'` when the server
 * runs without authentication (it answers 404: no such endpoint). */
export async function getSession(): Promise<Session | null | 'off'> {
  try {
    const r = await call<Session>('GET', 'session', undefined, FERROFLOW_API, {
      expect401: true,
    });
    setCsrfToken(r.csrf_token ?? undefined);
    return r;
  } catch (e) {
    if (e instanceof ApiError && e.status === 404) return 'off';
    if (e instanceof ApiError && e.status === 401) return null;
    throw e;
  }
}

/** What the caller may do on one experiment (`experimentId`) or registered model (`name`). */
export function myPermission(
  target: { experimentId: string } | { name: string },
): Promise<MyPermission> {
  const query =
    'experimentId' in target ? { experiment_id: target.experimentId } : { name: target.name };
  return call<MyPermission>('GET', 'permissions/mine', query, FERROFLOW_API);
}

export async function listUsers(): Promise<UserSummary[]> {
  const r = await call<{ users?: UserSummary[] }>('GET', 'users/list');
  return r.users ?? [];
}

export async function getUser(username: string): Promise<AuthUser> {
  const r = await call<{ user: AuthUser }>('GET', 'users/get', { username });
  return r.user;
}

export const createUser = (username: string, password: string) =>
  call('POST', 'users/create', { username, password });
export const updateAdmin = (username: string, isAdmin: boolean) =>
  call('PATCH', 'users/update-admin', { username, is_admin: isAdmin });
export const updatePassword = (username: string, password: string) =>
  call('PATCH', 'users/update-password', { username, password });
export const deleteUser = (username: string) => call('DELETE', 'users/delete', { username });

export const API3 = '/ajax-api/3.0/mlflow';

export const grantPermission = (
  username: string,
  resourceType: ResourceType,
  resourceId: string,
  permission: PermissionLevel,
) =>
  call(
    'POST',
    'users/permissions/grant',
    { username, resource_type: resourceType, resource_id: resourceId, permission },
    API3,
  );
export const revokePermission = (
  username: string,
  resourceType: ResourceType,
  resourceId: string,
) =>
  call(
    'POST',
    'users/permissions/revoke',
    { username, resource_type: resourceType, resource_id: resourceId },
    API3,
  );
/** A user's effective level on a resource (their grant, else the default). */
export function getPermission(
  username: string,
  resourceType: ResourceType,
  resourceId: string,
): Promise<{ allowed: boolean; permission: PermissionLevel }> {
  return call(
    'GET',
    'users/permissions/get',
    { username, resource_type: resourceType, resource_id: resourceId },
    API3,
  );
}

/** The caller's tokens, or (admins) another user's. */
export async function listTokens(username?: string): Promise<AccessToken[]> {
  const r = await call<{ tokens?: AccessToken[] }>('GET', 'tokens', { username }, FERROFLOW_API);
  return r.tokens ?? [];
}

/** A new token; its secret is in this answer only. */
export function createToken(
  name: string,
  expiresInDays?: number,
): Promise<{ token: AccessToken; secret: string }> {
  return call('POST', 'tokens', { name, expires_in_days: expiresInDays }, FERROFLOW_API);
}

export const revokeToken = (id: string, username?: string) =>
  call('POST', 'tokens/revoke', { id, username }, FERROFLOW_API);
