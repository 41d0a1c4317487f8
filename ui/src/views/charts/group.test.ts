import { describe, expect, it } from 'vitest';
import { align, groupStats, type Series } from './group';

const series: Series[] = [
  {
    id: 'a',
    label: 'a',
    group: 'lr=0.1',
    points: [
      { step: 0, value: 1 },
      { step: 1, value: 3 },
    ],
  },
  {
    id: 'b',
    label: 'b',
    group: 'lr=0.1',
    points: [
      { step: 0, value: 3 },
      { step: 2, value: 5 },
    ],
  },
  { id: 'c', label: 'c', group: 'lr=0.2', points: [{ step: 1, value: 10 }] },
];

describe('align', () => {
  it('unions the steps and leaves gaps as null', () => {
    const a = align(series);
    expect(a.xs).toEqual([0, 1, 2]);
    expect(a.ys).toEqual([
      [1, 3, null],
      [3, null, 5],
      [null, 10, null],
    ]);
  });
});

describe('groupStats', () => {
  it('gives mean, min and max per group over the runs present at each step', () => {
    const stats = groupStats(series, align(series));
    expect(stats.map((s) => [s.group, s.runs])).toEqual([
      ['lr=0.1', 2],
      ['lr=0.2', 1],
    ]);
    expect(stats[0].mean).toEqual([2, 3, 5]);
    expect(stats[0].min).toEqual([1, 3, 5]);
    expect(stats[0].max).toEqual([3, 3, 5]);
    expect(stats[1].mean).toEqual([null, 10, null]);
  });

  it('ignores non-finite values', () => {
    const s: Series[] = [
      { id: 'a', label: 'a', points: [{ step: 0, value: Number.NaN }] },
      { id: 'b', label: 'b', points: [{ step: 0, value: 4 }] },
    ];
    expect(groupStats(s, align(s))[0].mean).toEqual([4]);
  });
});
