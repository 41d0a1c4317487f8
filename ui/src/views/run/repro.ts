// The reproducibility panel's logic: from a run and the texts of its model's environment
// files, what a re-run needs and whether the run recorded it. Pure (no fetching), so it
// is unit-tested; ReproPanel.tsx fetches the files and renders the items.
import { artifactUrl } from '../../api/client';
import type { LoggedModel, Run } from '../../api/types';
import { tagValue } from '../../format';
import { parseYamlObject, summariseMLmodel } from './mlmodel';

/** The texts of a logged model's files (`undefined`: the file does not exist). */
export interface ModelFiles {
  /** Where the model is, for the panel ("run artifacts: model/", "logged model m-…"). */
  where: string;
  mlmodel?: string;
  pythonEnv?: string;
  requirements?: string;
  conda?: string;
}

export type ReproStatus = 'recorded' | 'partial' | 'missing';

export interface ReproItem {
  id:
    | 'git-commit'
    | 'git-dirty'
    | 'entry-point'
    | 'python'
    | 'libraries'
    | 'seed'
    | 'datasets'
    | 'requirements';
  label: string;
  status: ReproStatus;
  /** The recorded values, one per line; for a missing item, why it is missing. */
  values: string[];
  /** Where the values come from. */
  source?: string;
}

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

const tag = (run: Run, key: string) => run.data.tags?.find((t) => t.key === key)?.value;

/** Requirement lines of a requirements.txt (comments, blanks and pip options dropped). */
export function requirementLines(text: string | undefined): string[] {
  if (!text) return [];
  return text
    .split(/\r?\n/)
    .map((l) => l.replace(/(^|\s)#.*$/, '').trim())
    .filter((l) => l && !l.startsWith('-'));
}

/** Pinned means an exact version (`==`, `===`) or a URL/path requirement with a commit. */
const pinned = (req: string) => /===?\s*[\w.*+!-]+/.test(req) || /@\s*\S+/.test(req);

function condaInfo(text: string | undefined): { python?: string; pip: string[]; conda: string[] } {
  const doc = parseYamlObject(text);
  const out = {
    python: undefined as string | undefined,
    pip: [] as string[],
    conda: [] as string[],
  };
  const deps = doc && Array.isArray(doc.dependencies) ? doc.dependencies : [];
  for (const d of deps) {
    if (typeof d === 'string') {
      const m = /^python\s*[=<>~!]*\s*([\d.*]+)/.exec(d);
      if (m) out.python = m[1];
      else out.conda.push(d);
    } else if (d && typeof d === 'object' && Array.isArray((d as { pip?: unknown }).pip)) {
      for (const p of (d as { pip: unknown[] }).pip) if (typeof p === 'string') out.pip.push(p);
    }
  }
  return out;
}

function pythonEnvInfo(text: string | undefined): {
  python?: string;
  deps: string[];
  build: string[];
} {
  const doc = parseYamlObject(text);
  const list = (v: unknown) => (Array.isArray(v) ? v.filter((x) => typeof x === 'string') : []);
  return {
    python: doc?.python === undefined || doc?.python === null ? undefined : String(doc.python),
    deps: list(doc?.dependencies).filter((d) => !/^-r\s/.test(d)),
    build: list(doc?.build_dependencies),
  };
}

export function reproItems(run: Run, model?: ModelFiles): ReproItem[] {
  const items: ReproItem[] = [];
  const tags = run.data.tags ?? [];

  // Git commit (and where the code lives).
  const commit = tag(run, 'mlflow.source.git.commit');
  const repo = tag(run, 'mlflow.source.git.repoURL');
  const branch = tag(run, 'mlflow.source.git.branch');
  items.push({
    id: 'git-commit',
    label: 'Git commit',
    status: commit ? 'recorded' : 'missing',
    values: commit
      ? [commit, ...(repo ? [`repository: ${repo}`] : []), ...(branch ? [`branch: ${branch}`] : [])]
      : ['not recorded (tag mlflow.source.git.commit)'],
    source: commit ? 'tag mlflow.source.git.commit' : undefined,
  });

  // Uncommitted changes: MLflow itself records none, so any tag that says so.
  const dirtyTag = tags.find((t) =>
    /(^|\.)git\.(dirty|is_dirty)$|(^|\.)(git_)?dirty$/i.test(t.key),
  );
  let dirty: ReproItem;
  if (!dirtyTag)
    dirty = {
      id: 'git-dirty',
      label: 'Uncommitted changes',
      status: 'missing',
      values: ['not recorded (no git dirty-state tag, e.g. mlflow.source.git.dirty)'],
    };
  else {
    const v = dirtyTag.value.trim().toLowerCase();
    const isDirty = !['false', '0', 'no', 'clean', ''].includes(v);
    dirty = {
      id: 'git-dirty',
      label: 'Uncommitted changes',
      // A dirty tree is recorded, but the commit alone does not give the code back.
      status: isDirty ? 'partial' : 'recorded',
      values: [isDirty ? 'dirty: the working tree had uncommitted changes' : 'clean'],
      source: `tag ${dirtyTag.key}`,
    };
  }
  items.push(dirty);

  // Entry point or command.
  const entry: string[] = [];
  const sourceName = tag(run, 'mlflow.source.name');
  const sourceType = tag(run, 'mlflow.source.type');
  const entryPoint = tag(run, 'mlflow.project.entryPoint');
  const command = tag(run, 'mlflow.source.command') ?? tag(run, 'command');
  if (sourceName) entry.push(`source: ${sourceName}${sourceType ? ` (${sourceType})` : ''}`);
  if (entryPoint) entry.push(`project entry point: ${entryPoint}`);
  if (command) entry.push(`command: ${command}`);
  items.push({
    id: 'entry-point',
    label: 'Entry point / command',
    status: entry.length ? 'recorded' : 'missing',
    values: entry.length
      ? entry
      : ['not recorded (tags mlflow.source.name, mlflow.project.entryPoint)'],
  });

  // Python and library versions, and the model's requirements.
  const mlmodel = model?.mlmodel ? summariseMLmodel(model.mlmodel) : undefined;
  const env = pythonEnvInfo(model?.pythonEnv);
  const conda = condaInfo(model?.conda);
  const reqs = requirementLines(model?.requirements);
  const noModel = model ? undefined : 'no logged model, so no recorded environment';

  const python = mlmodel?.pythonVersion ?? env.python ?? conda.python;
  const pythonSource = mlmodel?.pythonVersion
    ? 'MLmodel'
    : env.python
      ? 'python_env.yaml'
      : conda.python
        ? 'conda.yaml'
        : undefined;
  items.push({
    id: 'python',
    label: 'Python version',
    status: python ? 'recorded' : 'missing',
    values: python
      ? [python]
      : [noModel ?? 'not recorded (no python_version in MLmodel, python_env.yaml or conda.yaml)'],
    source: pythonSource && model ? `${pythonSource} of ${model.where}` : undefined,
  });

  const requirements = reqs.length ? reqs : env.deps.length ? env.deps : conda.pip;
  const reqSource = reqs.length
    ? 'requirements.txt'
    : env.deps.length
      ? 'python_env.yaml'
      : conda.pip.length
        ? 'conda.yaml'
        : undefined;
  const libs: string[] = [];
  if (mlmodel?.mlflowVersion) libs.push(`mlflow==${mlmodel.mlflowVersion}`);
  for (const f of mlmodel?.flavors ?? [])
    for (const [k, v] of f.details)
      if (/_version$/.test(k) && k !== 'python_version')
        libs.push(`${k.replace(/_version$/, '')}==${v}`);
  for (const r of requirements) if (pinned(r) && !libs.includes(r)) libs.push(r);
  const unpinned = requirements.filter((r) => !pinned(r));
  items.push({
    id: 'libraries',
    label: 'Library versions',
    status: libs.length === 0 ? 'missing' : unpinned.length ? 'partial' : 'recorded',
    values: libs.length
      ? [...libs, ...(unpinned.length ? [`not pinned: ${unpinned.join(', ')}`] : [])]
      : [noModel ?? 'not recorded (no pinned versions in the model files)'],
    source:
      model && libs.length
        ? `${[mlmodel ? 'MLmodel' : '', reqSource ?? ''].filter(Boolean).join(' and ')} of ${model.where}`
        : undefined,
  });

  // Random seed: params or tags whose key says "seed".
  const seeds = [
    ...(run.data.params ?? [])
      .filter((p) => /seed/i.test(p.key))
      .map((p) => `param ${p.key} = ${p.value}`),
    ...tags.filter((t) => /seed/i.test(t.key)).map((t) => `tag ${t.key} = ${t.value}`),
  ];
  items.push({
    id: 'seed',
    label: 'Random seed',
    status: seeds.length ? 'recorded' : 'missing',
    values: seeds.length ? seeds : ['not recorded (no param or tag whose key contains "seed")'],
  });

  // Dataset digests.
  const inputs = run.inputs?.dataset_inputs ?? [];
  const withDigest = inputs.filter((d) => d.dataset.digest);
  items.push({
    id: 'datasets',
    label: 'Dataset digests',
    status:
      inputs.length === 0
        ? 'missing'
        : withDigest.length === inputs.length
          ? 'recorded'
          : 'partial',
    values: inputs.length
      ? inputs.map((d) => `${d.dataset.name}: ${d.dataset.digest || 'no digest'}`)
      : ['not recorded (the run logged no input datasets)'],
    source: inputs.length ? 'run inputs' : undefined,
  });

  items.push({
    id: 'requirements',
    label: "Model's requirements",
    status: requirements.length ? 'recorded' : 'missing',
    values: requirements.length
      ? requirements
      : [
          noModel ??
            'not recorded (no requirements.txt, python_env.yaml or conda.yaml with the model)',
        ],
    source: model && reqSource ? `${reqSource} of ${model.where}` : undefined,
  });
  return items;
}

/** "6 of 8 recorded". */
export function reproSummary(items: ReproItem[]): string {
  const ok = items.filter((i) => i.status === 'recorded').length;
  return `${ok} of ${items.length} recorded`;
}
