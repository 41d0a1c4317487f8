// The metric explorer: one chart per metric for the selected runs, from one
// `charts/series` call (downsampled on the server, min and max per bucket). x axis by
// step, wall time, relative time or another metric; linear or log y; EMA smoothing;
// outliers ignorable; grouping by a param or a tag into mean with a min/max band; drag
// to zoom, which refetches the finer range; live points pushed over `charts/live` while
// a run is RUNNING. All settings live in the URL (state.ts).
import { useEffect, useMemo, useState } from 'preact/hooks';
import { type ChartSeries, chartSeries, getRuns, subscribeChart } from '../../api/client';
import type { Run } from '../../api/types';
import { ErrorBox, KeySelect, useLoad } from '../../components/common';
import { type ChartLine, LineChart, PALETTE } from '../../components/LineChart';
import { Link, navigate } from '../../router';
import { align, groupStats, type Series } from './group';
import { type ChartState, decodeChartState, encodeChartState, type XAxis } from './state';
import { alignByMetric, appendPoints, ema, fillGaps, outlierRange, snapToGrid } from './transform';

const seriesId = (runId: string, key: string) => `${runId}\u0000${key}`;

/** Buckets per series asked of the server, and the shared x grid's cells per bucket. */
const BUCKETS = 1000;
const GRID_PER_BUCKET = 4;

/** The tag prefix of the group-by options: `#` is not allowed in MLflow keys. */
const TAG = '#';

interface BuiltChart {
  metric: string;
  xs: number[];
  lines: ChartLine[];
  yRange: [number, number] | null;
  /** Each plotted point's x and step, to turn a zoomed x range into steps. */
  steps: { x: number; step: number }[];
  shown: number;
  stored: number;
  sampled: boolean;
  last?: { step: number; value: number; run: string };
}

function groupValue(run: Run, state: ChartState): string | undefined {
  if (!state.group) return undefined;
  const { kind, key } = state.group;
  const items = kind === 'param' ? run.data.params : run.data.tags;
  const value = items?.find((p) => p.key === key)?.value;
  return `${key}=${value ?? '(none)'}`;
}

function xOf(x: XAxis, s: ChartSeries, run: Run, data: Map<string, ChartSeries>) {
  if (x === 'step') return { xs: s.steps, values: s.values, steps: s.steps };
  if (x === 'wall')
    return { xs: s.timestamps.map((t) => t / 1000), values: s.values, steps: s.steps };
  if (x === 'relative') {
    const t0 = run.info.start_time ?? s.timestamps[0] ?? 0;
    return { xs: s.timestamps.map((t) => (t - t0) / 1000), values: s.values, steps: s.steps };
  }
  const other = data.get(seriesId(run.info.run_id, x.metric));
  if (!other) return { xs: [], values: [], steps: [] };
  const aligned = alignByMetric(s, other);
  return { xs: aligned.x, values: aligned.values, steps: aligned.steps };
}

function buildChart(
  metric: string,
  runs: Run[],
  data: Map<string, ChartSeries>,
  state: ChartState,
): BuiltChart {
  const series: Series[] = [];
  const raw: {
    id: string;
    label: string;
    group?: string;
    xs: number[];
    values: number[];
    pointSteps: number[];
  }[] = [];
  const steps: { x: number; step: number }[] = [];
  let shown = 0;
  let stored = 0;
  let sampled = false;
  let last: BuiltChart['last'];
  for (const run of runs) {
    const s = data.get(seriesId(run.info.run_id, metric));
    if (!s || s.steps.length === 0) continue;
    shown += s.steps.length;
    stored += s.total_points;
    sampled ||= s.sampled;
    const label = run.info.run_name || run.info.run_id;
    const at = s.steps.length - 1;
    if (!last || s.steps[at] > last.step)
      last = { step: s.steps[at], value: s.values[at], run: label };
    const { xs, values, steps: pointSteps } = xOf(state.x, s, run, data);
    raw.push({ id: run.info.run_id, label, group: groupValue(run, state), xs, values, pointSteps });
  }
  // Downsampled series go on one shared grid of x values (see snapToGrid); raw ones, and
  // an x axis of another metric, keep their own x values.
  const snapped =
    sampled && typeof state.x !== 'object'
      ? snapToGrid(
          raw.map((r) => r.xs),
          GRID_PER_BUCKET * BUCKETS,
        )
      : raw.map((r) => r.xs);
  raw.forEach((r, k) => {
    const xs = snapped[k];
    const points = [];
    for (let i = 0; i < xs.length; i++) {
      if (state.logY && !(r.values[i] > 0)) continue;
      points.push({ step: xs[i], value: r.values[i] });
      steps.push({ x: xs[i], step: r.pointSteps[i] });
    }
    series.push({ id: r.id, label: r.label, group: r.group, points });
  });
  const aligned = align(series.filter((s) => s.points.length > 0));
  const plotted = series.filter((s) => s.points.length > 0);
  let lines: ChartLine[];
  if (state.group) {
    // Members' downsampled points fall on different steps: each is interpolated between
    // its own points so the group's mean and band are taken at every x.
    const filled = { xs: aligned.xs, ys: aligned.ys.map((col) => fillGaps(aligned.xs, col)) };
    lines = groupStats(plotted, filled).map((g, i) => ({
      label: `${g.group} (${g.runs} run${g.runs === 1 ? '' : 's'})`,
      values: ema(g.mean, state.smoothing),
      band: g.runs > 1 ? [g.min, g.max] : undefined,
      color: PALETTE[i % PALETTE.length],
    }));
  } else {
    lines = plotted.map((s, i) => ({
      label: s.label,
      values: ema(aligned.ys[i], state.smoothing),
      color: PALETTE[i % PALETTE.length],
    }));
  }
  const yRange = state.ignoreOutliers ? outlierRange(aligned.ys) : null;
  return { metric, xs: aligned.xs, lines, yRange, steps, shown, stored, sampled, last };
}

function xLabel(x: XAxis): string {
  if (x === 'step') return 'step';
  if (x === 'wall') return 'wall time';
  if (x === 'relative') return 'relative time (s)';
  return x.metric;
}

export function ChartView(props: { experimentId: string; query: URLSearchParams }) {
  const state = decodeChartState(props.query);
  const runIds = state.runs;
  const [runs, runsError] = useLoad(
    () => getRuns([props.experimentId], runIds),
    [props.experimentId, runIds.join(',')],
  );
  const ordered = useMemo(() => {
    const byId = new Map((runs ?? []).map((r) => [r.info.run_id, r]));
    return runIds.map((id) => byId.get(id)).filter((r): r is Run => r !== undefined);
  }, [runs, runIds.join(',')]);
  const keysOf = (pick: (r: Run) => { key: string }[] | undefined) =>
    [...new Set((runs ?? []).flatMap((r) => (pick(r) ?? []).map((m) => m.key)))].sort();
  const metricKeys = useMemo(() => keysOf((r) => r.data.metrics), [runs]);
  const paramKeys = useMemo(() => keysOf((r) => r.data.params), [runs]);
  const tagKeys = useMemo(
    () => keysOf((r) => r.data.tags).filter((k) => !k.startsWith('mlflow.')),
    [runs],
  );
  const metrics = state.metrics.length ? state.metrics : metricKeys.slice(0, 1);
  const xMetric = typeof state.x === 'object' ? state.x.metric : undefined;
  const fetchKeys = [...new Set(xMetric ? [...metrics, xMetric] : metrics)];
  const rangeKey = state.range ? state.range.join(':') : '';
  const [loaded, loadError, reload] = useLoad(
    async () =>
      runIds.length && fetchKeys.length
        ? chartSeries({ runIds, metricKeys: fetchKeys, range: state.range, buckets: BUCKETS })
        : [],
    [runIds.join(','), fetchKeys.join(','), rangeKey],
  );
  const [data, setData] = useState(new Map<string, ChartSeries>());
  useEffect(() => {
    setData(new Map((loaded ?? []).map((s) => [seriesId(s.run_id, s.key), s])));
  }, [loaded]);

  // Live points while any run is running, pushed by the server.
  const running = ordered.some((r) => r.info.status === 'RUNNING');
  const [liveCount, setLiveCount] = useState(0);
  useEffect(() => {
    if (!running || fetchKeys.length === 0) return;
    const high = state.range?.[1] ?? Number.POSITIVE_INFINITY;
    return subscribeChart(
      runIds,
      fetchKeys,
      (fresh) => {
        setLiveCount((n) => n + 1);
        setData((prev) => {
          const next = new Map(prev);
          for (const s of fresh) {
            const keep = s.steps.map((step, i) => (step <= high ? i : -1)).filter((i) => i >= 0);
            const more = {
              steps: keep.map((i) => s.steps[i]),
              timestamps: keep.map((i) => s.timestamps[i]),
              values: keep.map((i) => s.values[i]),
            };
            const id = seriesId(s.run_id, s.key);
            const old = next.get(id);
            if (!old) {
              next.set(id, { ...s, ...more, total_points: more.steps.length });
              continue;
            }
            const merged = appendPoints(old, more);
            const added = merged.steps.length - old.steps.length;
            if (added > 0)
              next.set(id, { ...old, ...merged, total_points: old.total_points + added });
          }
          return next;
        });
      },
      reload,
    );
  }, [running, runIds.join(','), fetchKeys.join(','), rangeKey]);

  const update = (change: Partial<ChartState>) => {
    const next = encodeChartState({ ...state, metrics, ...change });
    navigate(`/experiments/${encodeURIComponent(props.experimentId)}/chart${next}`, {
      replace: true,
    });
  };

  const charts = useMemo(
    () => (runs ? metrics.map((m) => buildChart(m, ordered, data, state)) : []),
    [runs, ordered, data, props.query.toString(), metrics.join(',')],
  );
  const shown = charts.reduce((n, c) => n + c.shown, 0);
  const stored = charts.reduce((n, c) => n + c.stored, 0);

  const zoomTo = (chart: BuiltChart, lo: number, hi: number) => {
    // A loop, not Math.min(...steps): a spread of 200,000 arguments overflows the stack.
    let low = Number.POSITIVE_INFINITY;
    let high = Number.NEGATIVE_INFINITY;
    for (const p of chart.steps) {
      if (p.x < lo || p.x > hi) continue;
      if (p.step < low) low = p.step;
      if (p.step > high) high = p.step;
    }
    if (low > high) return;
    update({ range: [low, high] });
  };

  const groupOption = state.group
    ? state.group.kind === 'param'
      ? state.group.key
      : `${TAG}${state.group.key}`
    : '';
  const xOption = typeof state.x === 'object' ? `metric:${state.x.metric}` : state.x;

  return (
    <section>
      <nav class="crumbs">
        <Link href="/">Experiments</Link> /{' '}
        <Link
          href={`/experiments/${encodeURIComponent(props.experimentId)}?sel=${runIds.join(',')}`}
        >
          Runs
        </Link>{' '}
        / <span>Chart</span>
      </nav>
      <h1>Metric chart</h1>
      <div class="toolbar">
        <KeySelect
          caption="Metric"
          label="metric"
          keys={metricKeys}
          value={metrics[0]}
          onChange={(key) => update({ metrics: [key, ...metrics.slice(1)] })}
        />
        <label>
          Add chart{' '}
          <select
            aria-label="add chart"
            value=""
            onChange={(e) => {
              const k = e.currentTarget.value;
              if (k && !metrics.includes(k)) update({ metrics: [...metrics, k].slice(0, 10) });
            }}
          >
            <option value="">—</option>
            {metricKeys
              .filter((k) => !metrics.includes(k))
              .map((k) => (
                <option key={k} value={k}>
                  {k}
                </option>
              ))}
          </select>
        </label>
        <label>
          Group by{' '}
          <select
            aria-label="group by"
            value={groupOption}
            onChange={(e) => {
              const v = e.currentTarget.value;
              update({
                group: !v
                  ? null
                  : v.startsWith(TAG)
                    ? { kind: 'tag', key: v.slice(TAG.length) }
                    : { kind: 'param', key: v },
              });
            }}
          >
            <option value="">(no grouping)</option>
            {paramKeys.map((k) => (
              <option key={`p${k}`} value={k}>
                params.{k}
              </option>
            ))}
            {tagKeys.map((k) => (
              <option key={`t${k}`} value={`${TAG}${k}`}>
                tags.{k}
              </option>
            ))}
          </select>
        </label>
        <label>
          X axis{' '}
          <select
            aria-label="x axis"
            value={xOption}
            onChange={(e) => {
              const v = e.currentTarget.value;
              const x: XAxis =
                v === 'wall' || v === 'relative'
                  ? v
                  : v.startsWith('metric:')
                    ? { metric: v.slice(7) }
                    : 'step';
              update({ x, range: null });
            }}
          >
            <option value="step">step</option>
            <option value="wall">wall time</option>
            <option value="relative">relative time</option>
            {metricKeys.map((k) => (
              <option key={k} value={`metric:${k}`}>
                metric {k}
              </option>
            ))}
          </select>
        </label>
        <label>
          <input
            type="checkbox"
            aria-label="log y"
            checked={state.logY}
            onChange={(e) => update({ logY: e.currentTarget.checked })}
          />{' '}
          log y
        </label>
        <label>
          <input
            type="checkbox"
            aria-label="ignore outliers"
            checked={state.ignoreOutliers}
            onChange={(e) => update({ ignoreOutliers: e.currentTarget.checked })}
          />{' '}
          ignore outliers
        </label>
        <label>
          Smoothing{' '}
          <input
            type="range"
            aria-label="smoothing"
            min="0"
            max="0.99"
            step="0.01"
            value={state.smoothing}
            onChange={(e) => update({ smoothing: Number(e.currentTarget.value) })}
          />{' '}
          {state.smoothing.toFixed(2)}
        </label>
        {state.range && (
          <button type="button" onClick={() => update({ range: null })}>
            Reset zoom (steps {state.range[0]}–{state.range[1]})
          </button>
        )}
        <span class="muted" data-live={running ? 'on' : 'off'} data-live-events={liveCount}>
          {runIds.length} runs{charts.length ? ` · ${shown} points` : ''}
          {stored > shown ? ` (of ${stored} stored, min/max per bucket)` : ''}
          {running ? ' · live' : ''}
        </span>
      </div>
      <ErrorBox error={runsError ?? loadError} />
      {runIds.length === 0 && <p class="muted">Select runs in the runs table to chart them.</p>}
      {charts.map((chart) => (
        <div key={chart.metric} class="chart-block">
          <h2>
            {chart.metric}{' '}
            {metrics.length > 1 && (
              <button
                type="button"
                aria-label={`remove ${chart.metric}`}
                onClick={() => update({ metrics: metrics.filter((m) => m !== chart.metric) })}
              >
                ×
              </button>
            )}
          </h2>
          <p
            class="muted chart-last"
            data-metric={chart.metric}
            data-last-step={chart.last?.step}
            data-points={chart.shown}
          >
            {chart.last
              ? `last: step ${chart.last.step} = ${chart.last.value} (${chart.last.run})`
              : ''}
          </p>
          {chart.lines.length > 0 ? (
            <LineChart
              label={`chart ${chart.metric}`}
              xs={chart.xs}
              lines={chart.lines}
              xLabel={xLabel(state.x)}
              xTime={state.x === 'wall'}
              logY={state.logY}
              yRange={chart.yRange}
              onZoom={(lo, hi) => zoomTo(chart, lo, hi)}
            />
          ) : (
            loaded && <p class="muted">No points for this metric.</p>
          )}
        </div>
      ))}
    </section>
  );
}
