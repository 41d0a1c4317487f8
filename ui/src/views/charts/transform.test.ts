import { describe, expect, it } from 'vitest';
import {
  alignByMetric,
  appendPoints,
  ema,
  fillGaps,
  outlierRange,
  quantile,
  snapToGrid,
} from './transform';

describe('ema', () => {
  it('returns the values unchanged at weight 0', () => {
    expect(ema([1, null, 3], 0)).toEqual([1, null, 3]);
  });
  it('is debiased: a constant series stays constant', () => {
    const out = ema([5, 5, 5, 5], 0.9);
    for (const v of out) expect(v).toBeCloseTo(5, 12);
  });
  it('smooths a step and skips nulls and NaN', () => {
    const out = ema([0, null, 10, Number.NaN, 10], 0.5);
    expect(out[1]).toBeNull();
    expect(out[3]).toBeNaN();
    expect(out[0]).toBe(0);
    // debiased: (0.5*0.5*0 ... ) -> second finite value 10 gives (0.25*0 + 0.5*10)/(1-0.25)
    expect(out[2]).toBeCloseTo(5 / 0.75, 12);
    expect(out[4] as number).toBeGreaterThan(out[2] as number);
    expect(out[4] as number).toBeLessThan(10);
  });
});

describe('outlierRange', () => {
  it('ignores a spike', () => {
    const values = Array.from({ length: 1000 }, (_, i) => i % 10);
    values[500] = 1e9;
    const [lo, hi] = outlierRange([values]) as [number, number];
    expect(lo).toBeLessThan(0.5);
    expect(hi).toBeLessThan(20);
    expect(hi).toBeGreaterThanOrEqual(9);
  });
  it('skips nulls and non-finite values and is null when nothing is left', () => {
    expect(outlierRange([[null, Number.NaN, Number.POSITIVE_INFINITY]])).toBeNull();
    const r = outlierRange([[null, 2, 2]]) as [number, number];
    expect(r[0]).toBeLessThan(2);
    expect(r[1]).toBeGreaterThan(2);
  });
  it('quantile interpolates', () => {
    expect(quantile([0, 10], 0.5)).toBe(5);
    expect(quantile([1, 2, 3], 1)).toBe(3);
  });
});

describe('alignByMetric', () => {
  it('maps each step to the other metric value and sorts by it', () => {
    const y = { steps: [0, 1, 2, 3], values: [10, 11, 12, 13] };
    const x = { steps: [0, 2, 3], values: [0.5, 0.1, Number.NaN] };
    expect(alignByMetric(y, x)).toEqual({ x: [0.1, 0.5], values: [12, 10], steps: [2, 0] });
  });
});

describe('appendPoints', () => {
  it('appends only points past the last step', () => {
    const a = { steps: [0, 1], timestamps: [10, 11], values: [1, 2] };
    const b = { steps: [1, 2, 3], timestamps: [11, 12, 13], values: [2, 3, 4] };
    expect(appendPoints(a, b)).toEqual({
      steps: [0, 1, 2, 3],
      timestamps: [10, 11, 12, 13],
      values: [1, 2, 3, 4],
    });
    expect(appendPoints(a, { steps: [1], timestamps: [1], values: [9] })).toBe(a);
  });
});

describe('fillGaps', () => {
  it('interpolates inner gaps only', () => {
    const out = fillGaps([0, 1, 2, 4, 5], [null, 2, null, 6, null]);
    expect([out[0], out[1], out[3], out[4]]).toEqual([null, 2, 6, null]);
    expect(out[2]).toBeCloseTo(10 / 3, 12);
  });
  it('keeps NaN where it is and interpolates across it', () => {
    expect(fillGaps([0, 1, 2], [0, Number.NaN, 2])).toEqual([0, Number.NaN, 2]);
    expect(fillGaps([0, 1, 2, 3], [0, null, Number.NaN, 3])).toEqual([0, 1, Number.NaN, 3]);
  });
});

describe('snapToGrid', () => {
  it('puts every series on one grid, keeping order and each point', () => {
    const snapped = snapToGrid(
      [
        [0, 3, 4, 10],
        [1, 7, 9.6, 10],
      ],
      10,
    );
    expect(snapped).toEqual([
      [0, 3, 4, 10],
      [1, 7, 10, 10],
    ]);
    const union = new Set(snapped.flat());
    expect([...union].every((x) => Number.isInteger(x))).toBe(true);
  });

  it('moves a point that lands on its predecessor to the next cell', () => {
    expect(snapToGrid([[0, 0.1, 0.2, 10]], 100)).toEqual([[0, 0.1, 0.2, 10]]);
    expect(snapToGrid([[0, 0.01, 0.02, 10]], 100)).toEqual([[0, 0.1, 0.2, 10]]);
  });

  it('bounds the shared x axis by the number of cells', () => {
    const series = Array.from({ length: 50 }, (_, s) =>
      Array.from({ length: 400 }, (_, i) => i * 250 + ((s * 37) % 250)),
    );
    const union = new Set(snapToGrid(series, 800).flat());
    expect(union.size).toBeLessThanOrEqual(801);
    expect(new Set(series.flat()).size).toBeGreaterThan(5000);
  });

  it('leaves a single x alone', () => {
    expect(snapToGrid([[5, 5]], 10)).toEqual([[5, 5]]);
  });
});
