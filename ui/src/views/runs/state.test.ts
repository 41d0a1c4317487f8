import { describe, expect, it } from 'vitest';
import {
  decodeExperimentIds,
  decodeRunsState,
  encodeRunsState,
  orderByClause,
  type RunsState,
  runsUrl,
} from './state';

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

  it('puts one experiment at /experiments/<id>, several at /runs?exp=', () => {
    const state = decodeRunsState("?filter=params.lr+%3D+'1'&view=ALL");
    expect(runsUrl(['7'], state)).toBe('/experiments/7?filter=params.lr+%3D+%271%27&view=ALL');
    expect(runsUrl(['1', '2'], decodeRunsState(''))).toBe('/runs?exp=1,2');
    const url = runsUrl(['1', '2'], state);
    expect(url).toBe('/runs?exp=1,2&filter=params.lr+%3D+%271%27&view=ALL');
    const q = new URL(url, 'http://x').search;
    expect(decodeExperimentIds(new URLSearchParams(q).get('exp'))).toEqual(['1', '2']);
    expect(decodeRunsState(q)).toEqual(state);
    expect(runsUrl(['3'], decodeRunsState(''), true)).toBe('/runs?exp=3');
  });

  it('reads the experiment ids of /runs?exp=', () => {
    expect(decodeExperimentIds('1, 2,,1,3')).toEqual(['1', '2', '3']);
    expect(decodeExperimentIds(null)).toEqual([]);
  });
});
