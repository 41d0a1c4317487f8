// Aligning metric series on a shared x axis and aggregating groups of runs into mean
// with a min/max band, for uPlot's column-oriented data.

export interface Point {
  step: number;
  value: number;
}

export interface Series {
  id: string;
  label: string;
  /** The group this series belongs to (e.g. `lr=0.1`), when grouping. */
  group?: string;
  points: Point[];
}

export interface Aligned {
  xs: number[];
  /** One column per series, `null` where the series has no point at that x. */
  ys: (number | null)[][];
}

export function align(series: Series[]): Aligned {
  const steps = new Set<number>();
  for (const s of series) for (const p of s.points) steps.add(p.step);
  const xs = [...steps].sort((a, b) => a - b);
  const index = new Map(xs.map((x, i) => [x, i]));
  const ys = series.map((s) => {
    const col: (number | null)[] = new Array(xs.length).fill(null);
    for (const p of s.points) col[index.get(p.step) as number] = p.value;
    return col;
  });
  return { xs, ys };
}

export interface GroupStats {
  group: string;
  runs: number;
  mean: (number | null)[];
  min: (number | null)[];
  max: (number | null)[];
}

/** Per group and per x: the mean, min and max over the group's runs that have a point there. */
export function groupStats(series: Series[], aligned: Aligned): GroupStats[] {
  const groups = new Map<string, number[]>();
  series.forEach((s, i) => {
    const g = s.group ?? '';
    const members = groups.get(g) ?? [];
    members.push(i);
    groups.set(g, members);
  });
  const out: GroupStats[] = [];
  for (const [group, members] of [...groups.entries()].sort((a, b) => a[0].localeCompare(b[0]))) {
    const n = aligned.xs.length;
    const mean: (number | null)[] = new Array(n).fill(null);
    const min: (number | null)[] = new Array(n).fill(null);
    const max: (number | null)[] = new Array(n).fill(null);
    for (let x = 0; x < n; x++) {
      let sum = 0;
      let count = 0;
      let lo = Number.POSITIVE_INFINITY;
      let hi = Number.NEGATIVE_INFINITY;
      for (const m of members) {
        const v = aligned.ys[m][x];
        if (v === null || !Number.isFinite(v)) continue;
        sum += v;
        count++;
        if (v < lo) lo = v;
        if (v > hi) hi = v;
      }
      if (count > 0) {
        mean[x] = sum / count;
        min[x] = lo;
        max[x] = hi;
      }
    }
    out.push({ group, runs: members.length, mean, min, max });
  }
  return out;
}
