// The comparison's pure logic: which params and metrics the selected runs differ in, and
// each run's values as numbers for the charts.
import type { Run } from '../../api/types';

export type FieldKind = 'param' | 'metric';

export interface DiffRow {
  kind: FieldKind;
  key: string;
  /** One per run, in the runs' order; `undefined` where the run has no value. */
  values: (string | number | undefined)[];
  /** Whether the runs do not all hold the same value (a missing value differs). */
  differs: boolean;
}

export function fieldValue(run: Run, kind: FieldKind, key: string): string | number | undefined {
  if (kind === 'param') return run.data.params?.find((p) => p.key === key)?.value;
  return run.data.metrics?.find((m) => m.key === key)?.value;
}

function keysOf(runs: Run[], kind: FieldKind): string[] {
  const keys = new Set<string>();
  for (const run of runs) {
    for (const item of (kind === 'param' ? run.data.params : run.data.metrics) ?? [])
      keys.add(item.key);
  }
  return [...keys].sort();
}

/** Every param, then every metric, any of the runs has; differing rows flagged. */
export function diffRows(runs: Run[]): DiffRow[] {
  const rows: DiffRow[] = [];
  for (const kind of ['param', 'metric'] as const) {
    for (const key of keysOf(runs, kind)) {
      const values = runs.map((run) => fieldValue(run, kind, key));
      // Object.is: NaN equals NaN, and 0 differs from -0 as the stored bits do.
      const differs = values.some((v) => !Object.is(v, values[0]));
      rows.push({ kind, key, values, differs });
    }
  }
  return rows;
}

/** A param's values as numbers when every present one is a finite number, else `null`
 * (the axis is then categorical). */
export function numericValues(
  values: (string | number | undefined)[],
): (number | undefined)[] | null {
  const out: (number | undefined)[] = [];
  for (const v of values) {
    if (v === undefined) {
      out.push(undefined);
      continue;
    }
    const n = typeof v === 'number' ? v : v.trim() === '' ? Number.NaN : Number(v);
    if (!Number.isFinite(n)) return null;
    out.push(n);
  }
  return out;
}

/** The params that vary across the runs, most-logged first: the parallel chart's axes. */
export function varyingParams(rows: DiffRow[], max: number): string[] {
  return rows
    .filter((r) => r.kind === 'param' && r.differs)
    .map((r) => ({ key: r.key, present: r.values.filter((v) => v !== undefined).length }))
    .sort((a, b) => b.present - a.present || a.key.localeCompare(b.key))
    .slice(0, max)
    .map((r) => r.key);
}
