// Comparison of selected runs: a diff table of params and metrics, parallel coordinates,
// a scatter of a param against a metric, and the server's parameter importance.
// State in the URL: ?runs=<ids>&all=1&metric=<key>&x=<param>
import type { EChartsCoreOption } from 'echarts/core';
import { useMemo } from 'preact/hooks';
import { getExperiment, getRuns, paramImportance } from '../../api/client';
import type { Run } from '../../api/types';
import { ErrorBox, KeySelect, useLoad } from '../../components/common';
import { EChart } from '../../components/EChart';
import { PALETTE } from '../../components/LineChart';
import { formatNumber } from '../../format';
import { Link, navigate } from '../../router';
import { type DiffRow, diffRows, numericValues, varyingParams } from './diff';

const MAX_AXES = 8;

function runLabel(run: Run): string {
  return run.info.run_name || run.info.run_id.slice(0, 8);
}

function show(v: string | number | undefined): string {
  if (v === undefined) return '—';
  return typeof v === 'number' ? formatNumber(v) : v;
}

export function CompareView(props: { experimentId: string; query: URLSearchParams }) {
  const runIds = (props.query.get('runs') ?? '').split(',').filter(Boolean);
  const showAll = props.query.get('all') === '1';
  const [experiment] = useLoad(() => getExperiment(props.experimentId), [props.experimentId]);
  const [runs, error] = useLoad(
    () => getRuns([props.experimentId], runIds),
    [props.experimentId, runIds.join(',')],
  );
  const ordered = useMemo(() => {
    if (!runs) return [];
    const byId = new Map(runs.map((r) => [r.info.run_id, r]));
    return runIds.map((id) => byId.get(id)).filter((r): r is Run => r !== undefined);
  }, [runs]);
  const rows = useMemo(() => diffRows(ordered), [ordered]);
  const metricKeys = rows.filter((r) => r.kind === 'metric').map((r) => r.key);
  const metric = props.query.get('metric') ?? metricKeys[0];
  const axes = varyingParams(rows, MAX_AXES);
  const xParam = props.query.get('x') ?? axes[0];

  const update = (changes: Record<string, string | undefined>) => {
    const q = new URLSearchParams(props.query);
    for (const [k, v] of Object.entries(changes)) {
      if (v === undefined) q.delete(k);
      else q.set(k, v);
    }
    navigate(`${location.pathname}?${q.toString()}`, { replace: true });
  };

  return (
    <section class="compare-view">
      <nav class="crumbs">
        <Link href="/">Experiments</Link> /{' '}
        <Link href={`/experiments/${encodeURIComponent(props.experimentId)}`}>
          {experiment?.name ?? props.experimentId}
        </Link>{' '}
        / <span>Compare</span>
      </nav>
      <h1>Compare {ordered.length} runs</h1>
      <ErrorBox error={error} />
      {runs && ordered.length === 0 && <p class="muted">No runs selected.</p>}
      {ordered.length > 0 && (
        <>
          <div class="toolbar">
            <label>
              <input
                type="checkbox"
                checked={!showAll}
                onChange={(e) => update({ all: e.currentTarget.checked ? undefined : '1' })}
              />{' '}
              Only differences
            </label>
            <KeySelect
              caption="Metric"
              label="metric"
              keys={metricKeys}
              value={metric}
              onChange={(key) => update({ metric: key })}
            />
          </div>
          <DiffTable runs={ordered} rows={showAll ? rows : rows.filter((r) => r.differs)} />
          {metric && (
            <>
              <h2>Parallel coordinates</h2>
              <ParallelCoordinates runs={ordered} rows={rows} axes={axes} metric={metric} />
              <h2>Scatter</h2>
              <KeySelect
                caption="Param"
                label="scatter param"
                keys={rows.filter((r) => r.kind === 'param').map((r) => r.key)}
                value={xParam}
                onChange={(key) => update({ x: key })}
              />
              {xParam && <Scatter runs={ordered} rows={rows} param={xParam} metric={metric} />}
              <h2>Parameter importance for {metric}</h2>
              <Importance experimentId={props.experimentId} metric={metric} />
            </>
          )}
        </>
      )}
    </section>
  );
}

function DiffTable(props: { runs: Run[]; rows: DiffRow[] }) {
  if (props.rows.length === 0)
    return <p class="muted">The runs hold the same params and metrics.</p>;
  return (
    <div class="table-scroll">
      <table class="diff" aria-label="run differences">
        <thead>
          <tr>
            <th scope="col">key</th>
            {props.runs.map((run, i) => (
              <th key={run.info.run_id} scope="col">
                <span
                  class="swatch"
                  aria-hidden="true"
                  style={{ background: PALETTE[i % PALETTE.length] }}
                />
                <Link href={`/runs/${encodeURIComponent(run.info.run_id)}`}>{runLabel(run)}</Link>
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {props.rows.map((row) => (
            <tr key={`${row.kind}:${row.key}`} class={row.differs ? 'differs' : undefined}>
              <th scope="row">
                <span class="muted">{row.kind === 'param' ? 'params.' : 'metrics.'}</span>
                {row.key}
              </th>
              {row.values.map((v, i) => (
                <td key={props.runs[i].info.run_id} class="mono">
                  {show(v)}
                </td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

/** An axis of the parallel chart: numeric when every value is a number, else categories. */
function axisFor(dim: number, name: string, values: (string | number | undefined)[]) {
  const numbers = numericValues(values);
  if (numbers) return { dim, name, type: 'value' as const, scale: true, data: numbers };
  const categories = [...new Set(values.filter((v) => v !== undefined).map(String))].sort();
  return {
    dim,
    name,
    type: 'category' as const,
    categoryData: categories,
    data: values.map((v) => (v === undefined ? undefined : String(v))),
  };
}

function ParallelCoordinates(props: {
  runs: Run[];
  rows: DiffRow[];
  axes: string[];
  metric: string;
}) {
  const option = useMemo<EChartsCoreOption>(() => {
    const byKey = (kind: string, key: string) =>
      props.rows.find((r) => r.kind === kind && r.key === key)?.values ?? [];
    const columns = [
      ...props.axes.map((key, i) => axisFor(i, key, byKey('param', key))),
      axisFor(props.axes.length, props.metric, byKey('metric', props.metric)),
    ];
    return {
      animation: false,
      parallel: { left: 60, right: 80, top: 40, bottom: 30 },
      parallelAxis: columns.map(({ data: _data, ...axis }) => axis),
      tooltip: { renderMode: 'richText' },
      series: [
        {
          type: 'parallel',
          lineStyle: { width: 2, opacity: 0.8 },
          data: props.runs.map((run, i) => ({
            name: runLabel(run),
            value: columns.map((c) => c.data[i] ?? null),
            lineStyle: { color: PALETTE[i % PALETTE.length] },
          })),
        },
      ],
    };
  }, [props.runs, props.rows, props.axes.join(','), props.metric]);
  return <EChart option={option} label="parallel coordinates" />;
}

function Scatter(props: { runs: Run[]; rows: DiffRow[]; param: string; metric: string }) {
  const option = useMemo<EChartsCoreOption>(() => {
    const xs = props.rows.find((r) => r.kind === 'param' && r.key === props.param)?.values ?? [];
    const ys = props.rows.find((r) => r.kind === 'metric' && r.key === props.metric)?.values ?? [];
    const numeric = numericValues(xs);
    const categories = numeric
      ? undefined
      : [...new Set(xs.filter((v) => v !== undefined).map(String))];
    return {
      animation: false,
      grid: { left: 70, right: 30, top: 20, bottom: 50 },
      xAxis: numeric
        ? { type: 'value', name: props.param, nameLocation: 'middle', nameGap: 30, scale: true }
        : {
            type: 'category',
            name: props.param,
            nameLocation: 'middle',
            nameGap: 30,
            data: categories,
          },
      yAxis: { type: 'value', name: props.metric, scale: true },
      tooltip: { renderMode: 'richText' },
      series: [
        {
          type: 'scatter',
          symbolSize: 10,
          data: props.runs
            .map((run, i) => ({
              name: runLabel(run),
              value: [
                numeric ? numeric[i] : xs[i] === undefined ? undefined : String(xs[i]),
                ys[i],
              ],
              itemStyle: { color: PALETTE[i % PALETTE.length] },
            }))
            .filter((p) => p.value[0] !== undefined && typeof p.value[1] === 'number'),
        },
      ],
    };
  }, [props.runs, props.rows, props.param, props.metric]);
  return <EChart option={option} label="scatter" height={300} />;
}

function Importance(props: { experimentId: string; metric: string }) {
  const [answer, error] = useLoad(
    () => paramImportance({ experimentIds: [props.experimentId], metricKey: props.metric }),
    [props.experimentId, props.metric],
  );
  if (error) return <ErrorBox error={error} />;
  if (!answer) return <p class="muted">Computing…</p>;
  const few = answer.runs_used < 10;
  return (
    <div class="importance">
      <p class="muted" aria-live="polite">
        Based on {answer.runs_used} runs of this experiment with {props.metric}
        {answer.truncated ? ` (the newest ${answer.runs_matched} read)` : ''}.{' '}
        {few ? 'Few runs: read this as a hint.' : ''}
      </p>
      <table class="kv importance-table" aria-label="parameter importance">
        <thead>
          <tr>
            <th scope="col">param</th>
            <th scope="col">importance</th>
            <th scope="col">correlation</th>
          </tr>
        </thead>
        <tbody>
          {answer.params.map((p) => (
            <tr key={p.key}>
              <th scope="row">{p.key}</th>
              <td>
                <span class="bar" style={{ width: `${Math.round(p.importance * 100)}%` }} />
                <span class="mono">{p.importance.toFixed(3)}</span>
              </td>
              <td class="mono">
                {p.correlation === null ? (
                  <span class="muted">{p.kind === 'categorical' ? 'categorical' : '—'}</span>
                ) : (
                  p.correlation.toFixed(3)
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
