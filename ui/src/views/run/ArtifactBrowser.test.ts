import { describe, expect, it } from 'vitest';
import { prettyJson, previewKind } from './ArtifactBrowser';
import { yamlProblem } from './mlmodel';

describe('artifact previews', () => {
  it('picks a preview by file name', () => {
    expect(previewKind('model/MLmodel')).toBe('mlmodel');
    expect(previewKind('a/b.JSON')).toBe('json');
    expect(previewKind('conda.yaml')).toBe('yaml');
    expect(previewKind('x.yml')).toBe('yaml');
    expect(previewKind('t.csv')).toBe('csv');
    expect(previewKind('t.tsv')).toBe('csv');
    expect(previewKind('plots/c.png')).toBe('image');
    expect(previewKind('model/requirements.txt')).toBe('text');
    expect(previewKind('notes.txt')).toBe('text');
    expect(previewKind('model.pkl')).toBe('none');
    expect(previewKind('MLmodel.bak')).toBe('none');
  });

  it('pretty-prints JSON, and leaves invalid JSON as it is', () => {
    expect(prettyJson('{"a":[1,2]}')).toEqual({
      text: '{\n  "a": [\n    1,\n    2\n  ]\n}',
      valid: true,
    });
    expect(prettyJson('{"a":1}\n{"a":2}\n')).toEqual({ text: '{"a":1}\n{"a":2}\n', valid: false });
  });

  it('reports invalid YAML', () => {
    expect(yamlProblem('a: 1\nb: [2, 3]\n')).toBeUndefined();
    expect(yamlProblem('a: 1\n---\nb: 2\n')).toBeUndefined();
    expect(yamlProblem('a: [1, 2\n')).toBeTruthy();
    expect(yamlProblem('a: 1\n a: 2\n')).toBeTruthy();
  });
});
