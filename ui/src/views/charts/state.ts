// The metric explorer's state, kept in the URL query so that a link reproduces the view:
// ?runs=<ids>&metric=<keys>&group=<param>|gtag=<tag>&x=step|wall|relative|metric:<key>
//  &log=1&smooth=<0..0.99>&outliers=1&from=<step>&to=<step>
import { decodeList, encodeList } from '../../urlList';

export type XAxis = 'step' | 'wall' | 'relative' | { metric: string };

export type Grouping = { kind: 'param' | 'tag'; key: string } | null;

export interface ChartState {
  runs: string[];
  metrics: string[];
  group: Grouping;
  x: XAxis;
  logY: boolean;
  /** EMA weight in [0, 0.99]; 0 is off. */
  smoothing: number;
  /** Clip the y axis to the 1st–99th percentile. */
  ignoreOutliers: boolean;
  /** A zoomed step range, refetched from the server at full detail. */
  range: [number, number] | null;
}

function int(value: string | null): number | null {
  if (value === null || !/^-?\d+$/.test(value)) return null;
  const n = Number(value);
  return Number.isSafeInteger(n) ? n : null;
}

export function decodeChartState(search: string | URLSearchParams): ChartState {
  const q = typeof search === 'string' ? new URLSearchParams(search) : search;
  const x = q.get('x') ?? 'step';
  const smooth = Number(q.get('smooth') ?? '0');
  const from = int(q.get('from'));
  const to = int(q.get('to'));
  const param = q.get('group');
  const tag = q.get('gtag');
  return {
    runs: decodeList(q.get('runs')).slice(0, 100),
    metrics: decodeList(q.get('metric')).slice(0, 10),
    group: param ? { kind: 'param', key: param } : tag ? { kind: 'tag', key: tag } : null,
    x:
      x === 'wall' || x === 'relative'
        ? x
        : x.startsWith('metric:') && x.length > 7
          ? { metric: x.slice(7) }
          : 'step',
    logY: q.get('log') === '1',
    smoothing: Number.isFinite(smooth) ? Math.min(Math.max(smooth, 0), 0.99) : 0,
    ignoreOutliers: q.get('outliers') === '1',
    range: from !== null && to !== null && from <= to ? [from, to] : null,
  };
}

export function encodeChartState(s: ChartState): string {
  const q = new URLSearchParams();
  if (s.runs.length) q.set('runs', encodeList(s.runs));
  if (s.metrics.length) q.set('metric', encodeList(s.metrics));
  if (s.group?.kind === 'param') q.set('group', s.group.key);
  if (s.group?.kind === 'tag') q.set('gtag', s.group.key);
  if (s.x !== 'step') q.set('x', typeof s.x === 'string' ? s.x : `metric:${s.x.metric}`);
  if (s.logY) q.set('log', '1');
  if (s.smoothing > 0) q.set('smooth', String(s.smoothing));
  if (s.ignoreOutliers) q.set('outliers', '1');
  if (s.range) {
    q.set('from', String(s.range[0]));
    q.set('to', String(s.range[1]));
  }
  const text = q.toString();
  return text ? `?${text}` : '';
}
