// The reproducibility panel: what a re-run needs and whether this run recorded it. The
// logic is in repro.ts; this fetches the model's environment files (MLmodel,
// python_env.yaml, requirements.txt, conda.yaml) from the newest logged model (MLflow 3)
// or from the run's `mlflow.log-model.history`, and renders the items.
import { fetchArtifactText } from '../../api/client';
import type { LoggedModel, Run } from '../../api/types';
import { useLoad } from '../../components/common';
import { type ModelFiles, modelLocation, type ReproItem, reproItems, reproSummary } from './repro';

const MAX_ENV_FILE = 256 * 1024;

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
