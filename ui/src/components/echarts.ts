// The part of ECharts the comparison uses (parallel coordinates, scatter), registered
// once. Imported lazily by EChart.tsx, so only the comparison page downloads it.
import { ParallelChart, ScatterChart } from 'echarts/charts';
import {
  GridComponent,
  ParallelComponent,
  TitleComponent,
  TooltipComponent,
  VisualMapComponent,
} from 'echarts/components';
import * as echarts from 'echarts/core';
import { SVGRenderer } from 'echarts/renderers';

echarts.use([
  ParallelChart,
  ScatterChart,
  GridComponent,
  ParallelComponent,
  TitleComponent,
  TooltipComponent,
  VisualMapComponent,
  SVGRenderer,
]);

export { echarts };
