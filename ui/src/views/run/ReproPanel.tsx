// The reproducibility panel: what a re-run needs and whether this run recorded it. The
// logic is in repro.ts; this fetches the model's environment files (MLmodel,
// python_env.yaml, requirements.txt, conda.yaml) from the newest logged model (MLflow 3)
// or from the run's `mlflow.log-model.history`, and renders the items.
import { artifactUrl, fetchArtifactText } from '../../api/client';
import type { LoggedModel, Run } from '../../api/types';
import { useLoad } from '../../components/common';
import { tagValue } from '../../format';
import { type ModelFiles, type ReproItem, reproItems, reproSummary } from './repro';

const MAX_ENV_FILE = 256 * 1024;

/** Where the run's model files are: a base URL on the artifact proxy and a label. */
export function modelLocation(
  run: Run,
  models: LoggedModel[],
): { where: string; url: (file: string) => string | undefined } | undefined {
  const newest = [...models]
    .filter((m) => artifactUrl(m.info.artifact_uri, 'MLmodel'))
    .sort((a, b) => (b.info.creation_timestamp_ms ?? 0) - (a.info.creation_timestamp_ms ?? 0))[0];
  if (newest)
    return {
      where: `logged model ${newest.info.name} (${newest.info.model_id})`,
      url: (file) => artifactUrl(newest.info.artifact_uri, file),
    };
  const history = tagValue(run.data.tags, 'mlflow.log-model.history');
  if (history) {
    try {
      const entries = JSON.parse(history) as { artifact_path?: string }[];
      const path = Array.isArray(entries) ? entries.at(-1)?.artifact_path : undefined;
      if (path)
        return {
          where: `run artifacts ${path}/`,
          url: (file) => artifactUrl(run.info.artifact_uri, `${path}/${file}`),
        };
    } catch {
      // A malformed history tag: no model location.
    }
  }
  return undefined;
}

async function loadFiles(run: Run, models: LoggedModel[]): Promise<ModelFiles | undefined> {
  const loc = modelLocation(run, models);
  if (!loc) return undefined;
  const get = async (file: string) => {
    const url = loc.url(file);
    if (!url) return undefined;
    try {
      return await fetchArtifactText(url, MAX_ENV_FILE);
    } catch {
      return undefined;
    }
  };
  const [mlmodel, pythonEnv, requirements, conda] = await Promise.all([
    get('MLmodel'),
    get('python_env.yaml'),
    get('requirements.txt'),
    get('conda.yaml'),
  ]);
  return { where: loc.where, mlmodel, pythonEnv, requirements, conda };
}

const STATUS_TEXT: Record<ReproItem['status'], string> = {
  recorded: 'recorded',
  partial: 'partly recorded',
  missing: 'missing',
};

export function ReproPanel(props: { run: Run; models?: LoggedModel[] }) {
  const { run, models } = props;
  const [files] = useLoad(
    async () => (models ? { files: await loadFiles(run, models) } : undefined),
    [run, models],
  );
  if (!files) return <p class="muted">Checking the run's records…</p>;
  const items = reproItems(run, files.files);
  return (
    <section class="repro" aria-label="reproducibility">
      <p class="muted">
        {reproSummary(items)}
        {files.files ? ` · environment from ${files.files.where}` : ' · no logged model found'}
      </p>
      <ul class="repro-items">
        {items.map((i) => (
          <li
            key={i.id}
            class={`repro-item repro-${i.status}`}
            data-item={i.id}
            data-status={i.status}
          >
            <span class={`repro-status repro-status-${i.status}`}>{STATUS_TEXT[i.status]}</span>
            <div>
              <strong>{i.label}</strong>
              {i.source && <span class="muted small"> · {i.source}</span>}
              <ul class="repro-values">
                {i.values.map((v, n) => (
                  <li key={n} class={i.status === 'missing' ? 'muted' : 'mono'}>
                    {v}
                  </li>
                ))}
              </ul>
            </div>
          </li>
        ))}
      </ul>
    </section>
  );
}
