import { describe, expect, it } from 'vitest';
import type { Run } from '../../api/types';
import { diffRows, numericValues, varyingParams } from './diff';

function run(id: string, params: Record<string, string>, metrics: Record<string, number>): Run {
  return {
    info: { run_id: id, experiment_id: '1', status: 'FINISHED', lifecycle_stage: 'active' },
    data: {
      params: Object.entries(params).map(([key, value]) => ({ key, value })),
      metrics: Object.entries(metrics).map(([key, value]) => ({
        key,
        value,
        step: 0,
        timestamp: 0,
      })),
    },
  };
}

describe('diffRows', () => {
  it('flags the params and metrics the runs differ in, a missing value included', () => {
    const rows = diffRows([
      run('a', { lr: '0.1', seed: '1', opt: 'adam' }, { loss: 0.5, acc: Number.NaN }),
      run('b', { lr: '0.01', seed: '1' }, { loss: 0.5, acc: Number.NaN }),
    ]);
    const flags = Object.fromEntries(rows.map((r) => [`${r.kind}:${r.key}`, r.differs]));
    expect(flags).toEqual({
      'param:lr': true,
      'param:opt': true,
      'param:seed': false,
      'metric:acc': false,
      'metric:loss': false,
    });
    expect(rows.find((r) => r.key === 'opt')?.values).toEqual(['adam', undefined]);
  });

  it('tells 0 from -0', () => {
    const rows = diffRows([run('a', {}, { m: 0 }), run('b', {}, { m: -0 })]);
    expect(rows[0].differs).toBe(true);
  });
});

describe('numericValues', () => {
  it('reads numbers and keeps gaps', () => {
    expect(numericValues(['0.1', undefined, '1e-3', 2])).toEqual([0.1, undefined, 0.001, 2]);
  });
  it('is null when any value is not a finite number', () => {
    expect(numericValues(['0.1', 'adam'])).toBeNull();
    expect(numericValues(['inf'])).toBeNull();
    expect(numericValues([''])).toBeNull();
  });
});

describe('varyingParams', () => {
  it('keeps differing params, most logged first, capped', () => {
    const rows = diffRows([
      run('a', { lr: '0.1', rare: 'x', same: '1' }, {}),
      run('b', { lr: '0.2', same: '1' }, {}),
      run('c', { lr: '0.3', same: '1' }, {}),
    ]);
    expect(varyingParams(rows, 5)).toEqual(['lr', 'rare']);
    expect(varyingParams(rows, 1)).toEqual(['lr']);
  });
});
