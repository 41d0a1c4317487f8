// Pure transforms of chart columns: EMA smoothing, the y range that ignores outliers, and
// re-basing a series onto another metric's values as its x axis.

/** A series as columns, in step order (what the chart endpoint sends). */
export interface Columns {
  steps: number[];
  timestamps: number[];
  values: number[];
}

/**
 * Exponential moving average with TensorBoard's debiasing, so the first points are not
 * pulled towards 0. `weight` in [0, 1): 0 returns the values unchanged. Nulls and
 * non-finite values are passed through as they are and do not feed the average.
 */
export function ema(values: (number | null)[], weight: number): (number | null)[] {
  if (!(weight > 0)) return values.slice();
  const w = Math.min(weight, 0.999);
  let last = 0;
  let n = 0;
  return values.map((v) => {
    if (v === null || !Number.isFinite(v)) return v;
    last = last * w + (1 - w) * v;
    n++;
    return last / (1 - w ** n);
  });
}

/** The `p`-quantile (0..1) of sorted finite numbers, linearly interpolated. */
export function quantile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const at = Math.min(Math.max(p, 0), 1) * (sorted.length - 1);
  const lo = Math.floor(at);
  const hi = Math.ceil(at);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (at - lo);
}

/**
 * The y range that ignores outliers: from the `lower` to the `upper` quantile of every
 * finite value across the columns, padded by 5% of its span. `null` when there are no
 * finite values (the chart then picks its own range).
 */
export function outlierRange(
  columns: (number | null)[][],
  lower = 0.01,
  upper = 0.99,
): [number, number] | null {
  const all: number[] = [];
  for (const col of columns) for (const v of col) if (v !== null && Number.isFinite(v)) all.push(v);
  if (all.length === 0) return null;
  all.sort((a, b) => a - b);
  const lo = quantile(all, lower);
  const hi = quantile(all, upper);
  const pad = (hi - lo) * 0.05 || Math.abs(lo) * 0.05 || 1;
  return [lo - pad, hi + pad];
}

/**
 * A series re-based onto another metric of the same run as its x axis: each point whose
 * step the other metric also has gets that metric's value there as its x (the last one
 * logged at that step). Points without a partner, or whose partner is not finite, are
 * dropped. The result is sorted by x.
 */
export function alignByMetric(
  y: { steps: number[]; values: number[] },
  x: { steps: number[]; values: number[] },
): { x: number[]; values: number[]; steps: number[] } {
  const at = new Map<number, number>();
  for (let i = 0; i < x.steps.length; i++) at.set(x.steps[i], x.values[i]);
  const points: { x: number; v: number; s: number }[] = [];
  y.steps.forEach((s, i) => {
    const xv = at.get(s);
    if (xv !== undefined && Number.isFinite(xv)) points.push({ x: xv, v: y.values[i], s });
  });
  points.sort((a, b) => a.x - b.x || a.s - b.s);
  return {
    x: points.map((p) => p.x),
    values: points.map((p) => p.v),
    steps: points.map((p) => p.s),
  };
}

/**
 * Appends live points to a series' columns: only points past its last step (the stream
 * may repeat what a concurrent fetch already returned). Returns the same object when
 * nothing is new.
 */
export function appendPoints(into: Columns, more: Columns): Columns {
  const last = into.steps.length ? into.steps[into.steps.length - 1] : Number.NEGATIVE_INFINITY;
  const keep = more.steps.map((s, i) => (s > last ? i : -1)).filter((i) => i >= 0);
  if (keep.length === 0) return into;
  return {
    steps: [...into.steps, ...keep.map((i) => more.steps[i])],
    timestamps: [...into.timestamps, ...keep.map((i) => more.timestamps[i])],
    values: [...into.values, ...keep.map((i) => more.values[i])],
  };
}

/**
 * A column with its inner gaps filled by linear interpolation in x between the series'
 * own neighbouring points (never past its first or last point), so that runs whose
 * downsampled points fall on different steps can still be averaged at every x.
 */
export function fillGaps(xs: number[], col: (number | null)[]): (number | null)[] {
  const out = col.slice();
  let prev = -1;
  for (let i = 0; i < col.length; i++) {
    const v = col[i];
    if (v === null || !Number.isFinite(v)) continue;
    if (prev >= 0 && i - prev > 1) {
      const a = col[prev] as number;
      const span = xs[i] - xs[prev];
      for (let j = prev + 1; j < i; j++)
        if (out[j] === null) out[j] = span > 0 ? a + ((v - a) * (xs[j] - xs[prev])) / span : a;
    }
    prev = i;
  }
  return out;
}

/**
 * Moves downsampled points onto one grid of `cells` equal steps over all series' x range,
 * so that the chart's shared x axis holds at most `cells + 1` values. Each server bucket
 * keeps its min and its max at their own steps, so the series rarely share an x. Aligned
 * as they come, 100 series × 2,000 points make a 200,000-row table, which is what made
 * a large chart slow to draw. A point keeps its value; it moves at most to the next free
 * cell after the previous point's (order is kept), so spikes survive. With the grid four
 * times finer than the server's buckets, the shift is a fraction of a bucket.
 */
export function snapToGrid(xsList: number[][], cells: number): number[][] {
  let lo = Number.POSITIVE_INFINITY;
  let hi = Number.NEGATIVE_INFINITY;
  for (const xs of xsList)
    for (const x of xs) {
      if (x < lo) lo = x;
      if (x > hi) hi = x;
    }
  if (!(hi > lo) || cells < 1) return xsList;
  const width = (hi - lo) / cells;
  return xsList.map((xs) => {
    const out: number[] = [];
    let last = -1;
    for (const x of xs) {
      // Past the last cell (a crowded end), a point shares the last grid x.
      const cell = Math.min(cells, Math.max(Math.round((x - lo) / width), last + 1));
      out.push(lo + cell * width);
      last = cell;
    }
    return out;
  });
}
