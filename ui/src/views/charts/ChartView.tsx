// A metric of selected runs over steps, optionally grouped by a param into mean with a
// min/max band. One metrics/get-history-bulk-interval call per chart.
import { useMemo } from 'preact/hooks';
import { getRuns, metricHistoryBulk } from '../../api/client';
import { ErrorBox, useLoad } from '../../components/common';
import { type ChartLine, LineChart, PALETTE } from '../../components/LineChart';
import { Link, navigate } from '../../router';
import { align, groupStats, type Series } from './group';

export function ChartView(props: { experimentId: string; query: URLSearchParams }) {
  const runIds = (props.query.get('runs') ?? '').split(',').filter(Boolean).slice(0, 100);
  const metric = props.query.get('metric') ?? '';
  const groupBy = props.query.get('group') ?? '';
  const [runs, runsError] = useLoad(
    () => getRuns([props.experimentId], runIds),
    [props.experimentId, runIds.join(',')],
  );
  const metricKeys = useMemo(
    () =>
      [...new Set((runs ?? []).flatMap((r) => (r.data.metrics ?? []).map((m) => m.key)))].sort(),
    [runs],
  );
  const paramKeys = useMemo(
    () => [...new Set((runs ?? []).flatMap((r) => (r.data.params ?? []).map((p) => p.key)))].sort(),
    [runs],
  );
  const activeMetric = metric || metricKeys[0] || '';
  const [history, historyError] = useLoad(
    async () => (activeMetric && runIds.length ? metricHistoryBulk(runIds, activeMetric) : []),
    [runIds.join(','), activeMetric],
  );

  const set = (k: string, v: string) => {
    const q = new URLSearchParams(props.query);
    if (v) q.set(k, v);
    else q.delete(k);
    navigate(`/experiments/${encodeURIComponent(props.experimentId)}/chart?${q}`, {
      replace: true,
    });
  };

  const chart = useMemo(() => {
    if (!runs || !history) return null;
    const byRun = new Map<string, Series>();
    for (const r of runs) {
      const param = r.data.params?.find((p) => p.key === groupBy)?.value;
      byRun.set(r.info.run_id, {
        id: r.info.run_id,
        label: r.info.run_name || r.info.run_id,
        group: groupBy ? `${groupBy}=${param ?? '(none)'}` : undefined,
        points: [],
      });
    }
    for (const m of history)
      byRun.get(m.run_id ?? '')?.points.push({ step: m.step, value: m.value });
    const series = [...byRun.values()].filter((s) => s.points.length > 0);
    const aligned = align(series);
    let lines: ChartLine[];
    if (groupBy) {
      lines = groupStats(series, aligned).map((g, i) => ({
        label: `${g.group} (${g.runs} run${g.runs === 1 ? '' : 's'})`,
        values: g.mean,
        band: g.runs > 1 ? [g.min, g.max] : undefined,
        color: PALETTE[i % PALETTE.length],
      }));
    } else {
      lines = series.map((s, i) => ({
        label: s.label,
        values: aligned.ys[i],
        color: PALETTE[i % PALETTE.length],
      }));
    }
    return { xs: aligned.xs, lines, points: history.length };
  }, [runs, history, groupBy]);

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
        <label>
          Metric{' '}
          <select
            aria-label="metric"
            value={activeMetric}
            onChange={(e) => set('metric', e.currentTarget.value)}
          >
            {metricKeys.map((k) => (
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
            value={groupBy}
            onChange={(e) => set('group', e.currentTarget.value)}
          >
            <option value="">(no grouping)</option>
            {paramKeys.map((k) => (
              <option key={k} value={k}>
                params.{k}
              </option>
            ))}
          </select>
        </label>
        <span class="muted">
          {runIds.length} runs{chart ? ` · ${chart.points} points` : ''}
        </span>
      </div>
      <ErrorBox error={runsError ?? historyError} />
      {runIds.length === 0 && <p class="muted">Select runs in the runs table to chart them.</p>}
      {chart && chart.lines.length > 0 && (
        <LineChart xs={chart.xs} lines={chart.lines} xLabel="step" />
      )}
      {chart && chart.lines.length === 0 && <p class="muted">No points for this metric.</p>}
    </section>
  );
}
