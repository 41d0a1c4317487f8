import { describe, expect, it } from 'vitest';
import { pickerGroups, tagKeysByFrequency } from './columns';

describe('column picker', () => {
  it('orders tags by how many runs carry them, without system tags', () => {
    const run = (...keys: string[]) => ({ data: { tags: keys.map((key) => ({ key })) } });
    expect(
      tagKeysByFrequency([
        run('b', 'mlflow.user', 'rare'),
        run('b', 'a', 'mlflow.user'),
        run('a', 'b'),
        run(),
      ]),
    ).toEqual(['b', 'a', 'rare']);
  });

  it('groups params, metrics and tags, each capped, so tags stay in view', () => {
    const params = Array.from({ length: 300 }, (_, i) => `params.p${i}`);
    const groups = pickerGroups([...params, 'metrics.loss', 'tags.team'], [], '', 100);
    expect(groups.map((g) => [g.label, g.shown.length, g.more])).toEqual([
      ['Params', 100, 200],
      ['Metrics', 1, 0],
      ['Tags', 1, 0],
    ]);
    expect(groups[2].shown).toEqual(['tags.team']);
  });

  it('filters by text and keeps chosen columns the runs lack', () => {
    const groups = pickerGroups(['params.lr', 'tags.Team'], ['tags.gone'], 'TEAM');
    expect(groups.map((g) => g.shown)).toEqual([[], [], ['tags.Team']]);
    expect(pickerGroups(['params.lr'], ['tags.gone'], '')[2].shown).toEqual(['tags.gone']);
  });
});
