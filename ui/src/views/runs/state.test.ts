import { describe, expect, it } from 'vitest';
import { decodeRunsState, encodeRunsState, orderByClause, type RunsState } from './state';

describe('runs URL state', () => {
  it('round-trips every field', () => {
    const state: RunsState = {
      filter: "params.lr = '0.1' OR metrics.loss < 2",
      sort: { key: 'metrics.val,loss', desc: true },
      columns: ['params.lr', 'metrics.val,loss', 'tags.a%b'],
      selected: ['r1', 'r2'],
      view: 'DELETED_ONLY',
    };
    const encoded = encodeRunsState(state);
    expect(decodeRunsState(encoded)).toEqual(state);
  });

  it('is empty for the default state', () => {
    const empty: RunsState = {
      filter: '',
      sort: null,
      columns: [],
      selected: [],
      view: 'ACTIVE_ONLY',
    };
    expect(encodeRunsState(empty)).toBe('');
    expect(decodeRunsState('')).toEqual(empty);
    expect(decodeRunsState('?view=bogus').view).toBe('ACTIVE_ONLY');
    expect(decodeRunsState('?view=ALL').view).toBe('ALL');
  });

  it('builds order_by clauses with quoted keys', () => {
    expect(orderByClause(null)).toEqual(['attributes.start_time DESC']);
    expect(orderByClause({ key: 'params.learning rate', desc: false })).toEqual([
      'params.`learning rate` ASC',
    ]);
    expect(orderByClause({ key: 'metrics.val.loss', desc: true })).toEqual([
      'metrics.`val.loss` DESC',
    ]);
  });
});
