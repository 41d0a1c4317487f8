import { describe, expect, it } from 'vitest';
import type { Run } from '../../api/types';
import { summariseMLmodel } from './mlmodel';
import {
  type ModelFiles,
  modelLocation,
  reproItems,
  reproSummary,
  requirementLines,
} from './repro';

const run = (over: Partial<Run['data']> = {}, inputs?: Run['inputs']): Run => ({
  info: { run_id: 'r1', experiment_id: '1', status: 'FINISHED', lifecycle_stage: 'active' },
  data: { params: [], tags: [], metrics: [], ...over },
  inputs,
});

const MLMODEL = `artifact_path: model
flavors:
  python_function:
    env:
      conda: conda.yaml
      virtualenv: python_env.yaml
    loader_module: mlflow.sklearn
    model_path: model.pkl
    predict_fn: predict
    python_version: 3.11.2
  sklearn:
    code: null
    pickled_model: model.pkl
    serialization_format: cloudpickle
    sklearn_version: 1.9.1
mlflow_version: 3.17.2
model_id: m-abc
signature:
  inputs: '[{"type": "double", "name": "x", "required": true}, {"type": "tensor", "tensor-spec": {"dtype": "float64", "shape": [-1, 4]}}]'
  outputs: '[{"type": "long", "required": true}]'
  params: null
utc_time_created: '2026-12-04 18:00:00.000000'
`;

const FILES: ModelFiles = {
  where: 'logged model m-abc',
  mlmodel: MLMODEL,
  pythonEnv:
    'python: 3.11.2\nbuild_dependencies:\n- pip==24.0\ndependencies:\n- -r requirements.txt\n',
  requirements: 'mlflow==3.17.2\n# a comment\nscikit-learn==1.9.1\nnumpy\n',
  conda: 'channels:\n- conda-forge\ndependencies:\n- python=3.11.2\n- pip:\n  - mlflow==3.17.2\n',
};

const byId = (items: ReturnType<typeof reproItems>) =>
  Object.fromEntries(items.map((i) => [i.id, i]));

describe('reproducibility panel', () => {
  it('marks everything missing for a bare run, saying why', () => {
    const items = reproItems(run());
    expect(items.map((i) => i.id)).toEqual([
      'git-commit',
      'git-dirty',
      'entry-point',
      'python',
      'libraries',
      'seed',
      'datasets',
      'requirements',
    ]);
    for (const i of items) {
      expect(i.status, i.id).toBe('missing');
      expect(i.values[0], i.id).toMatch(/not recorded|no logged model/);
    }
    expect(reproSummary(items)).toBe('0 of 8 recorded');
  });

  it('reads git, entry point, seeds and datasets from the run', () => {
    const r = run(
      {
        params: [
          { key: 'seed', value: '42' },
          { key: 'lr', value: '0.1' },
        ],
        tags: [
          { key: 'mlflow.source.git.commit', value: 'abc123' },
          { key: 'mlflow.source.git.repoURL', value: 'https://git.example/x.git' },
          { key: 'mlflow.source.name', value: 'train.py' },
          { key: 'mlflow.source.type', value: 'LOCAL' },
          { key: 'mlflow.project.entryPoint', value: 'main' },
          { key: 'data_seed', value: '7' },
        ],
      },
      {
        dataset_inputs: [
          {
            dataset: { name: 'train', digest: 'd1' },
            tags: [{ key: 'mlflow.data.context', value: 'training' }],
          },
          { dataset: { name: 'eval', digest: '' } },
        ],
      },
    );
    const i = byId(reproItems(r));
    expect(i['git-commit']).toMatchObject({
      status: 'recorded',
      values: ['abc123', 'repository: https://git.example/x.git'],
    });
    expect(i['git-dirty'].status).toBe('missing');
    expect(i['entry-point']).toMatchObject({
      status: 'recorded',
      values: ['source: train.py (LOCAL)', 'project entry point: main'],
    });
    expect(i.seed).toMatchObject({
      status: 'recorded',
      values: ['param seed = 42', 'tag data_seed = 7'],
    });
    expect(i.datasets).toMatchObject({
      status: 'partial',
      values: ['train: d1', 'eval: no digest'],
    });
  });

  it('reads the dirty state from a tag', () => {
    const dirty = byId(
      reproItems(run({ tags: [{ key: 'mlflow.source.git.dirty', value: 'true' }] })),
    );
    expect(dirty['git-dirty']).toMatchObject({
      status: 'partial',
      source: 'tag mlflow.source.git.dirty',
    });
    const clean = byId(reproItems(run({ tags: [{ key: 'git.dirty', value: 'False' }] })));
    expect(clean['git-dirty']).toMatchObject({ status: 'recorded', values: ['clean'] });
  });

  it("reads Python, library versions and requirements from the model's files", () => {
    const i = byId(reproItems(run(), FILES));
    expect(i.python).toMatchObject({
      status: 'recorded',
      values: ['3.11.2'],
      source: 'MLmodel of logged model m-abc',
    });
    expect(i.libraries.status).toBe('partial');
    expect(i.libraries.values).toEqual([
      'mlflow==3.17.2',
      'sklearn==1.9.1',
      'scikit-learn==1.9.1',
      'not pinned: numpy',
    ]);
    expect(i.requirements).toMatchObject({
      status: 'recorded',
      values: ['mlflow==3.17.2', 'scikit-learn==1.9.1', 'numpy'],
      source: 'requirements.txt of logged model m-abc',
    });
  });

  it('falls back to python_env.yaml, then conda.yaml', () => {
    const env = byId(reproItems(run(), { where: 'm', pythonEnv: FILES.pythonEnv }));
    expect(env.python).toMatchObject({ values: ['3.11.2'], source: 'python_env.yaml of m' });
    expect(env.requirements.status).toBe('missing');
    const conda = byId(reproItems(run(), { where: 'm', conda: FILES.conda }));
    expect(conda.python.values).toEqual(['3.11.2']);
    expect(conda.requirements).toMatchObject({
      values: ['mlflow==3.17.2'],
      source: 'conda.yaml of m',
    });
    expect(conda.libraries.status).toBe('recorded');
    expect(conda.libraries.source).toBe('conda.yaml of m');
    // Broken YAML is treated as absent, not thrown.
    const broken = byId(reproItems(run(), { where: 'm', mlmodel: ': : [', pythonEnv: '{' }));
    expect(broken.python.status).toBe('missing');
  });

  it('parses requirements.txt lines', () => {
    expect(requirementLines('a==1 # x\n\n-r other.txt\n--index-url z\n b>=2 \n')).toEqual([
      'a==1',
      'b>=2',
    ]);
  });
});

describe('MLmodel summary', () => {
  it('lists flavors, signature and versions', () => {
    const s = summariseMLmodel(MLMODEL);
    expect(s?.flavors.map((f) => f.name)).toEqual(['python_function', 'sklearn']);
    expect(s?.flavors[1].details).toContainEqual(['sklearn_version', '1.9.1']);
    expect(s?.pythonVersion).toBe('3.11.2');
    expect(s?.mlflowVersion).toBe('3.17.2');
    expect(s?.modelId).toBe('m-abc');
    expect(s?.signature?.inputs).toEqual([
      { name: 'x', type: 'double', required: true },
      { name: undefined, type: 'tensor float64 [-1,4]', required: undefined },
    ]);
    expect(s?.signature?.outputs).toEqual([{ name: undefined, type: 'long', required: true }]);
    expect(s?.signature?.params).toBeUndefined();
    expect(summariseMLmodel('- a list')).toBeUndefined();
  });
});

describe('model location', () => {
  const base = run();
  base.info.artifact_uri = 'mlflow-artifacts:/1/r1/artifacts';
  it('prefers the newest MLflow 3 logged model', () => {
    const model = (id: string, t: number) => ({
      info: {
        model_id: id,
        experiment_id: '1',
        name: 'm',
        artifact_uri: `mlflow-artifacts:/1/models/${id}/artifacts`,
        creation_timestamp_ms: t,
      },
    });
    const loc = modelLocation(base, [model('m-old', 1), model('m-new', 2)]);
    expect(loc?.where).toBe('logged model m (m-new)');
    expect(loc?.url('MLmodel')).toBe(
      '/ajax-api/2.0/mlflow-artifacts/artifacts/1/models/m-new/artifacts/MLmodel',
    );
  });
  it("falls back to the run's mlflow.log-model.history, else none", () => {
    const r = run({
      tags: [
        {
          key: 'mlflow.log-model.history',
          value: '[{"artifact_path": "old"}, {"artifact_path": "model", "flavors": {}}]',
        },
      ],
    });
    r.info.artifact_uri = base.info.artifact_uri;
    const loc = modelLocation(r, []);
    expect(loc?.where).toBe('run artifacts model/');
    expect(loc?.url('requirements.txt')).toBe(
      '/ajax-api/2.0/mlflow-artifacts/artifacts/1/r1/artifacts/model/requirements.txt',
    );
    expect(modelLocation(base, [])).toBeUndefined();
    const broken = run({ tags: [{ key: 'mlflow.log-model.history', value: '{' }] });
    expect(modelLocation(broken, [])).toBeUndefined();
  });
});
