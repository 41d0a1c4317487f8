// A uPlot line chart with optional min/max bands, a log or clipped y axis, a time x
// axis, and drag-to-zoom reported to the caller (which refetches the finer range). The
// legend is drawn by Preact (escaped text), not by uPlot.
import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

export interface ChartLine {
  label: string;
  values: (number | null)[];
  color: string;
  /** A band drawn behind the line, from `band[0]` (min) to `band[1]` (max). */
  band?: [(number | null)[], (number | null)[]];
}

export const PALETTE = [
  '#1f77b4',
  '#ff7f0e',
  '#2ca02c',
  '#d62728',
  '#9467bd',
  '#8c564b',
  '#e377c2',
  '#17becf',
  '#bcbd22',
  '#7f7f7f',
];

function withAlpha(hex: string, alpha: number): string {
  const n = Number.parseInt(hex.slice(1), 16);
  return `rgba(${(n >> 16) & 255}, ${(n >> 8) & 255}, ${n & 255}, ${alpha})`;
}

export function LineChart(props: {
  xs: number[];
  lines: ChartLine[];
  xLabel: string;
  height?: number;
  /** x values are Unix seconds, drawn as dates and times. */
  xTime?: boolean;
  logY?: boolean;
  /** A fixed y range (e.g. one that ignores outliers); automatic when absent. */
  yRange?: [number, number] | null;
  /** Called with the x range the user dragged over. */
  onZoom?: (lo: number, hi: number) => void;
  label?: string;
}) {
  const ref = useRef<HTMLDivElement>(null);
  const zoom = useRef(props.onZoom);
  zoom.current = props.onZoom;
  useEffect(() => {
    const el = ref.current;
    if (!el) return;
    const { yRange } = props;
    const data: (number | null)[][] = [props.xs];
    const series: uPlot.Series[] = [{ label: props.xLabel }];
    const bands: uPlot.Band[] = [];
    for (const line of props.lines) {
      if (line.band) {
        const lo = data.length;
        data.push(line.band[0], line.band[1]);
        series.push(
          { label: `${line.label} min`, stroke: 'transparent', points: { show: false } },
          { label: `${line.label} max`, stroke: 'transparent', points: { show: false } },
        );
        bands.push({ series: [lo + 1, lo], fill: withAlpha(line.color, 0.18) });
      }
      data.push(line.values);
      series.push({ label: line.label, stroke: line.color, width: 2, spanGaps: true });
    }
    const dark = window.matchMedia?.('(prefers-color-scheme: dark)').matches;
    const axisColor = dark ? '#bbb' : '#333';
    const grid = { stroke: dark ? '#333' : '#e5e5e5' };
    const plot = new uPlot(
      {
        width: Math.max(400, el.clientWidth),
        height: props.height ?? 360,
        legend: { show: false },
        scales: {
          x: { time: props.xTime ?? false },
          y: {
            distr: props.logY ? 3 : 1,
            ...(yRange ? { range: (): uPlot.Range.MinMax => [yRange[0], yRange[1]] } : {}),
          },
        },
        hooks: {
          setSelect: [
            (u) => {
              const onZoom = zoom.current;
              if (!onZoom || u.select.width < 2) return;
              const lo = u.posToVal(u.select.left, 'x');
              const hi = u.posToVal(u.select.left + u.select.width, 'x');
              onZoom(Math.min(lo, hi), Math.max(lo, hi));
            },
          ],
        },
        axes: [
          { stroke: axisColor, grid, label: props.xLabel },
          { stroke: axisColor, grid },
        ],
        series,
        bands,
      },
      data as uPlot.AlignedData,
      el,
    );
    const resize = new ResizeObserver(() =>
      plot.setSize({ width: Math.max(400, el.clientWidth), height: props.height ?? 360 }),
    );
    resize.observe(el);
    return () => {
      resize.disconnect();
      plot.destroy();
    };
  }, [
    props.xs,
    props.lines,
    props.xLabel,
    props.height,
    props.xTime,
    props.logY,
    props.yRange?.[0],
    props.yRange?.[1],
  ]);

  return (
    <figure class="chart" aria-label={props.label}>
      <div ref={ref} class="chart-canvas" />
      <ul class="legend" aria-label="legend">
        {props.lines.map((l, i) => (
          <li key={i}>
            <span class="swatch" style={{ background: l.color }} />
            {l.label}
          </li>
        ))}
      </ul>
    </figure>
  );
}
