// An ECharts chart (SVG renderer: its text is real DOM text, and no canvas is needed).
// ECharts is loaded on first use, so pages without such a chart do not download it.
// Tooltips use ECharts' rich-text mode, so user data never becomes HTML.
import type { EChartsCoreOption } from 'echarts/core';
import { useEffect, useRef, useState } from 'preact/hooks';

type Charts = typeof import('./echarts');

let loading: Promise<Charts> | undefined;
const loadCharts = () => {
  loading ??= import('./echarts');
  return loading;
};

export function EChart(props: { option: EChartsCoreOption; label: string; height?: number }) {
  const ref = useRef<HTMLDivElement>(null);
  const chart = useRef<ReturnType<Charts['echarts']['init']>>();
  const [error, setError] = useState<string>();

  useEffect(() => {
    let live = true;
    let observer: ResizeObserver | undefined;
    loadCharts().then(
      ({ echarts }) => {
        if (!live || !ref.current) return;
        const dark = window.matchMedia?.('(prefers-color-scheme: dark)').matches;
        chart.current = echarts.init(ref.current, dark ? 'dark' : undefined, { renderer: 'svg' });
        chart.current.setOption(props.option);
        observer = new ResizeObserver(() => chart.current?.resize());
        observer.observe(ref.current);
      },
      (e) => live && setError(String(e)),
    );
    return () => {
      live = false;
      observer?.disconnect();
      chart.current?.dispose();
      chart.current = undefined;
    };
  }, []);

  useEffect(() => {
    chart.current?.setOption(props.option, { notMerge: true });
  }, [props.option]);

  return (
    <div>
      {error && (
        <div class="error" role="alert">
          {error}
        </div>
      )}
      <div
        ref={ref}
        class="echart"
        role="img"
        aria-label={props.label}
        style={{ height: `${props.height ?? 360}px` }}
      />
    </div>
  );
}
