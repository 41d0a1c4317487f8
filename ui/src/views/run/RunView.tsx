// One run: overview, description (plain text), params, latest metrics, tags, artifacts.
import { getExperiment, getRun } from '../../api/client';
import { ErrorBox, KeyValueTable, StatusBadge, useLoad } from '../../components/common';
import { formatDuration, formatNumber, formatTime, tagValue } from '../../format';
import { Link } from '../../router';
import { ArtifactBrowser } from './ArtifactBrowser';

export function RunView(props: { runId: string }) {
  const [run, error] = useLoad(() => getRun(props.runId), [props.runId]);
  const [experiment] = useLoad(
    async () => (run ? getExperiment(run.info.experiment_id) : undefined),
    [run?.info.experiment_id],
  );
  if (error) return <ErrorBox error={error} />;
  if (!run) return <p class="muted">Loading…</p>;
  const { info, data } = run;
  const tags = data.tags ?? [];
  const description = tagValue(tags, 'mlflow.note.content');
  const commit = tagValue(tags, 'mlflow.source.git.commit');
  const expHref = `/experiments/${encodeURIComponent(info.experiment_id)}`;
  return (
    <section class="run-view">
      <nav class="crumbs">
        <Link href="/">Experiments</Link> /{' '}
        <Link href={expHref}>{experiment?.name ?? info.experiment_id}</Link> /{' '}
        <span>{info.run_name || info.run_id}</span>
      </nav>
      <h1 class="run-name">{info.run_name || info.run_id}</h1>
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
              { key: 'Source', value: tagValue(tags, 'mlflow.source.name') },
              {
                key: 'Git commit',
                value: commit ? (
                  <span class="mono">{commit}</span>
                ) : (
                  <span class="muted">not recorded</span>
                ),
              },
              { key: 'Lifecycle', value: info.lifecycle_stage },
            ]}
          />
          <h2>Description</h2>
          {description ? (
            // Plain text (escaped by Preact); markdown rendering is a TODO (ui/README.md).
            <pre class="description">{description}</pre>
          ) : (
            <p class="muted">No description.</p>
          )}
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
                <span title={`step ${m.step}`}>
                  {formatNumber(m.value)} <span class="muted">(step {m.step})</span>
                </span>
              ),
            }))}
          />
          <h2>Tags</h2>
          <KeyValueTable
            label="tags"
            rows={tags
              .filter((t) => t.key !== 'mlflow.note.content')
              .map((t) => ({ key: t.key, value: t.value }))}
          />
        </div>
      </div>
      <h2>Artifacts</h2>
      <ArtifactBrowser runId={info.run_id} artifactUri={info.artifact_uri} />
    </section>
  );
}
