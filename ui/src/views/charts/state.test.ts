import { describe, expect, it } from 'vitest';
import { type ChartState, decodeChartState, encodeChartState } from './state';

describe('chart state in the URL', () => {
  it('round-trips every setting', () => {
    const s: ChartState = {
      runs: ['a', 'b'],
      metrics: ['loss', 'val,acc'],
      group: { kind: 'tag', key: 'team' },
      x: { metric: 'epoch' },
      logY: true,
      smoothing: 0.6,
      ignoreOutliers: true,
      range: [10, 200],
    };
    expect(decodeChartState(encodeChartState(s))).toEqual(s);
  });
  it('keeps the old links working and defaults the rest', () => {
    const s = decodeChartState('?runs=a,b&metric=loss&group=lr');
    expect(s.runs).toEqual(['a', 'b']);
    expect(s.metrics).toEqual(['loss']);
    expect(s.group).toEqual({ kind: 'param', key: 'lr' });
    expect(s.x).toBe('step');
    expect(s.range).toBeNull();
    expect(encodeChartState(s)).toBe('?runs=a%2Cb&metric=loss&group=lr');
  });
  it('ignores malformed values', () => {
    const s = decodeChartState('?x=metric:&smooth=abc&from=5&to=1&log=yes');
    expect(s.x).toBe('step');
    expect(s.smoothing).toBe(0);
    expect(s.range).toBeNull();
    expect(s.logY).toBe(false);
  });
});
