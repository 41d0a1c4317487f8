// One run: overview, description (markdown), reproducibility, params, latest metrics (each
// linked to the chart view), tags (editable), input datasets, logged models, parent and
// child runs, artifacts. Loaded lazily by app.tsx (with the markdown and YAML parsers).
import { useState } from 'preact/hooks';
import {
  artifactUrl,
  childRuns,
  deleteTag,
  getExperiment,
  getRun,
  listArtifacts,
  listLoggedModelArtifacts,
  loggedModelFileUrl,
  loggedModelsOfRun,
  setTag,
} from '../../api/client';
import type { LoggedModel, Run } from '../../api/types';
import { experimentActions } from '../../auth/permissions';
import { useMyPermission } from '../../auth/session';
import { ErrorBox, KeyValueTable, StatusBadge, useLoad } from '../../components/common';
import { TagsEditor } from '../../components/TagsEditor';
import { formatDuration, formatNumber, formatTime, tagValue } from '../../format';
import { Link } from '../../router';
import { ArtifactBrowser } from './ArtifactBrowser';
import { Description, NOTE_TAG } from './Description';
import { ReproPanel } from './ReproPanel';

const runHref = (id: string) => `/runs/${encodeURIComponent(id)}`;
const notRecorded = <span class="muted">not recorded</span>;
const NO_MODELS: LoggedModel[] = [];

export function RunView(props: { runId: string }) {
  const [run, error, reload] = useLoad(() => getRun(props.runId), [props.runId]);
  const expId = run?.info.experiment_id;
  const [experiment] = useLoad(async () => (expId ? getExperiment(expId) : undefined), [expId]);
  const [loaded, modelsError] = useLoad(
    async () =>
      expId
        ? { runId: props.runId, models: await loggedModelsOfRun(expId, props.runId) }
        : undefined,
    [expId, props.runId],
  );
  const update = experimentActions(
    useMyPermission(expId ? { experimentId: expId } : undefined),
  ).update;
  const readOnly = update.allowed ? undefined : update.reason;
  // Only this run's models (the previous run's stay in state until the new answer).
  const models = loaded?.runId === props.runId ? loaded.models : undefined;
  if (error) return <ErrorBox error={error} />;
  if (!run || run.info.run_id !== props.runId) return <p class="muted">Loading…</p>;
  const { info, data } = run;
  const tags = data.tags ?? [];
  const commit = tagValue(tags, 'mlflow.source.git.commit');
  const sourceName = tagValue(tags, 'mlflow.source.name');
  const sourceType = tagValue(tags, 'mlflow.source.type');
  const entryPoint = tagValue(tags, 'mlflow.project.entryPoint');
  const expHref = `/experiments/${encodeURIComponent(info.experiment_id)}`;
  const chartHref = (metric: string) =>
    `${expHref}/chart?runs=${encodeURIComponent(info.run_id)}&metric=${encodeURIComponent(metric)}`;
  return (
    <section class="run-view" key={info.run_id}>
      <nav class="crumbs">
        <Link href="/">Experiments</Link> /{' '}
        <Link href={expHref}>{experiment?.name ?? info.experiment_id}</Link> /{' '}
        <span>{info.run_name || info.run_id}</span>
      </nav>
      <h1 class="run-name">{info.run_name || info.run_id}</h1>
      <ParentLink run={run} />
      <div class="columns">
        <div>
          <h2>Overview</h2>
          <KeyValueTable
            label="overview"
            rows={[
              { key: 'Run ID', value: <span class="mono">{info.run_id}</span> },
              { key: 'Status', value: <StatusBadge status={info.status} /> },
              { key: 'Started', value: formatTime(info.start_time) },
              { key: 'Ended', value: formatTime(info.end_time) },
              { key: 'Duration', value: formatDuration(info.start_time, info.end_time) },
              { key: 'User', value: info.user_id || tagValue(tags, 'mlflow.user') },
              {
                key: 'Source',
                value: sourceName ? (
                  <>
                    <span class="mono">{sourceName}</span>
                    {sourceType && <span class="muted"> ({sourceType})</span>}
                  </>
                ) : (
                  notRecorded
                ),
              },
              {
                key: 'Git commit',
                value: commit ? <span class="mono">{commit}</span> : notRecorded,
              },
              ...(entryPoint ? [{ key: 'Entry point', value: entryPoint }] : []),
              { key: 'Lifecycle', value: info.lifecycle_stage },
            ]}
          />
          <h2>Description</h2>
          <Description
            runId={info.run_id}
            text={tagValue(tags, NOTE_TAG)}
            onChange={reload}
            readOnly={readOnly}
          />
        </div>
        <div>
          <h2>Parameters</h2>
          <KeyValueTable
            label="parameters"
            rows={(data.params ?? []).map((p) => ({ key: p.key, value: p.value }))}
          />
          <h2>Metrics</h2>
          <KeyValueTable
            label="metrics"
            rows={(data.metrics ?? []).map((m) => ({
              key: m.key,
              value: (
                <Link href={chartHref(m.key)} title={`chart ${m.key} (step ${m.step})`}>
                  {formatNumber(m.value)} <span class="muted">(step {m.step})</span>
                </Link>
              ),
            }))}
          />
          <h2>Tags</h2>
          <TagsEditor
            tags={tags}
            onSet={(key, value) => setTag(info.run_id, key, value)}
            onDelete={(key) => deleteTag(info.run_id, key)}
            onChange={reload}
            readOnly={readOnly}
          />
          <h2>Reproducibility</h2>
          <ReproPanel run={run} models={modelsError ? NO_MODELS : models} />
        </div>
      </div>
      <div class="columns">
        <div>
          <h2>Input datasets</h2>
          <Datasets run={run} />
          <h2>Child runs</h2>
          <Children run={run} />
        </div>
        <div>
          <h2>Logged models</h2>
          <ErrorBox error={modelsError} />
          <LoggedModels run={run} models={modelsError ? NO_MODELS : models} />
        </div>
      </div>
      <h2>Artifacts</h2>
      <ArtifactBrowser
        id={info.run_id}
        list={(dir) => listArtifacts(info.run_id, dir)}
        urlOf={(path) => artifactUrl(info.artifact_uri, path)}
      />
    </section>
  );
}

function ParentLink(props: { run: Run }) {
  const parentId = tagValue(props.run.data.tags, 'mlflow.parentRunId');
  const [parent] = useLoad(
    async () => (parentId ? getRun(parentId).catch(() => undefined) : undefined),
    [parentId],
  );
  if (!parentId) return null;
  return (
    <p class="parent">
      Child of run{' '}
      <Link href={runHref(parentId)} aria-label="parent run">
        {parent?.info.run_name || parentId}
      </Link>
    </p>
  );
}

function Children(props: { run: Run }) {
  const { info } = props.run;
  const [children, error] = useLoad(
    () => childRuns(info.experiment_id, info.run_id),
    [info.experiment_id, info.run_id],
  );
  if (error) return <ErrorBox error={error} />;
  if (!children) return <p class="muted">Loading…</p>;
  if (children.length === 0) return <p class="muted">No child runs.</p>;
  return (
    <ul class="child-runs" aria-label="child runs">
      {children.map((c) => (
        <li key={c.info.run_id}>
          <Link href={runHref(c.info.run_id)}>{c.info.run_name || c.info.run_id}</Link>{' '}
          <StatusBadge status={c.info.status} />{' '}
          <span class="muted">{formatTime(c.info.start_time)}</span>
        </li>
      ))}
    </ul>
  );
}

function Datasets(props: { run: Run }) {
  const inputs = props.run.inputs?.dataset_inputs ?? [];
  if (inputs.length === 0) return <p class="muted">No input datasets recorded.</p>;
  return (
    <table class="grid" aria-label="input datasets">
      <thead>
        <tr>
          <th scope="col">Name</th>
          <th scope="col">Digest</th>
          <th scope="col">Source</th>
          <th scope="col">Context</th>
        </tr>
      </thead>
      <tbody>
        {inputs.map((d, i) => (
          <tr key={i}>
            <td>{d.dataset.name}</td>
            <td class="mono">{d.dataset.digest || <span class="muted">none</span>}</td>
            <td>
              {d.dataset.source_type && <span class="muted">{d.dataset.source_type}: </span>}
              <span class="mono small">{d.dataset.source}</span>
            </td>
            <td>{tagValue(d.tags, 'mlflow.data.context') ?? ''}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

interface HistoryEntry {
  artifact_path?: string;
  utc_time_created?: string;
  flavors?: Record<string, unknown>;
  model_uuid?: string;
}

function LoggedModels(props: { run: Run; models?: LoggedModel[] }) {
  const { run, models } = props;
  let history: HistoryEntry[] = [];
  try {
    const h = JSON.parse(tagValue(run.data.tags, 'mlflow.log-model.history') ?? '[]');
    if (Array.isArray(h)) history = h;
  } catch {
    // A malformed tag: nothing to list from it.
  }
  const outputs = run.outputs?.model_outputs ?? [];
  const known = new Set((models ?? []).map((m) => m.info.model_id));
  const otherOutputs = outputs.filter((o) => !known.has(o.model_id));
  if (!models) return <p class="muted">Loading…</p>;
  if (models.length === 0 && history.length === 0 && otherOutputs.length === 0)
    return <p class="muted">No logged models.</p>;
  return (
    <ul class="logged-models" aria-label="logged models">
      {models.map((m) => (
        <li key={m.info.model_id}>
          <strong>{m.info.name}</strong> <span class="mono muted">{m.info.model_id}</span>
          <div class="muted small">
            {[
              m.info.model_type,
              m.info.status,
              formatTime(m.info.creation_timestamp_ms),
              outputs.some((o) => o.model_id === m.info.model_id) ? 'output of this run' : '',
            ]
              .filter(Boolean)
              .join(' · ')}
          </div>
          <ModelFiles model={m} />
        </li>
      ))}
      {otherOutputs.map((o) => (
        <li key={o.model_id}>
          <span class="mono">{o.model_id}</span>{' '}
          <span class="muted small">output{o.step ? ` at step ${o.step}` : ''}</span>
        </li>
      ))}
      {history.map((h, i) => (
        <li key={`h${i}`}>
          <strong class="mono">{h.artifact_path ?? '?'}/</strong>{' '}
          <span class="muted small">
            run artifacts · {Object.keys(h.flavors ?? {}).join(', ')}
            {h.utc_time_created ? ` · ${h.utc_time_created}` : ''}
          </span>
        </li>
      ))}
    </ul>
  );
}

function ModelFiles(props: { model: LoggedModel }) {
  const { model_id, artifact_uri, name } = props.model.info;
  const [open, setOpen] = useState(false);
  return (
    <>
      <button
        type="button"
        class="link"
        aria-expanded={open}
        aria-label={`files of model ${name}`}
        onClick={() => setOpen(!open)}
      >
        {open ? 'Hide files' : 'Files'}
      </button>
      {open && (
        <div class="model-files">
          <ArtifactBrowser
            id={model_id}
            label={`files of ${name}`}
            list={(dir) => listLoggedModelArtifacts(model_id, dir)}
            urlOf={(path) => loggedModelFileUrl(model_id, artifact_uri, path)}
          />
        </div>
      )}
    </>
  );
}
