// The web UI benchmark (bench/ui.sh runs it): ferroflow's UI and MLflow 3.17.2's own UI,
// serving the same data (one MLflow database, imported into ferroflow), measured in the
// same headless Chromium in the same run. Each figure is the median of REPEAT cold loads
// (a fresh browser context: no cache). See bench/README.md ("The web UI").
//
//   FERROFLOW_BIN, MLFLOW_BIN, BENCH_PYTHON   the servers and the seeding python (bench venv)
//   BENCH_WORKDIR                             where the stores and logs go
//   BENCH_TABLE_RUNS, BENCH_CHART_RUNS, BENCH_CHART_POINTS   data sizes (10000, 100, 100000)
//   BENCH_RESULTS                             the markdown file whose UI section is rewritten
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../../ui/e2e/net.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, '../..');
const { chromium } = createRequire(join(repo, 'ui/package.json'))('playwright-core');

const env = (name, fallback) => process.env[name] ?? fallback;
const workdir = env('BENCH_WORKDIR', join(repo, 'bench/work/ui'));
const sizes = {
  tableRuns: Number(env('BENCH_TABLE_RUNS', 10000)),
  chartRuns: Number(env('BENCH_CHART_RUNS', 100)),
  chartPoints: Number(env('BENCH_CHART_POINTS', 100000)),
};
const REPEAT = Number(env('BENCH_REPEAT', 3));
// BENCH_UIS=ferroflow measures one UI (a quick look; the results file is then not written).
const UIS_MEASURED = env('BENCH_UIS', 'ferroflow,mlflow').split(',');
const LIMIT_MS = 60_000;
mkdirSync(workdir, { recursive: true });


async function waitUp(url, child, seconds = 180) {
  for (let i = 0; i < seconds * 10; i++) {
    if (child.exitCode !== null) throw new Error(`${url}: server exited with ${child.exitCode}`);
    try {
      if ((await fetch(`${url}/health`)).ok) return;
    } catch {}
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${url} did not start`);
}

function log(text) {
  console.log(`bench-ui: ${text}`);
}

const median = (xs) => {
  const s = xs.filter((x) => x !== null).sort((a, b) => a - b);
  return s.length ? s[Math.floor((s.length - 1) / 2)] : null;
};

// ---------------------------------------------------------------- data and servers

const mlflowDb = join(workdir, 'mlflow.db');
const ferroflowDb = join(workdir, 'ferroflow.db');
const artifacts = join(workdir, 'artifacts');
// BENCH_REUSE=1 keeps the databases of an earlier run in the same BENCH_WORKDIR.
const seedFile = join(workdir, 'seed.json');
const reuse = process.env.BENCH_REUSE === '1' && existsSync(seedFile);
let started = Date.now();
const seed = reuse ? JSON.parse(readFileSync(seedFile, 'utf8')) : JSON.parse(
  execFileSync(
    env('BENCH_PYTHON', join(repo, 'bench/.venv/bin/python')),
    [
      join(here, 'seed.py'),
      mlflowDb,
      artifacts,
      String(sizes.tableRuns),
      String(sizes.chartRuns),
      String(sizes.chartPoints),
    ],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] },
  )
    .trim()
    .split('\n')
    .pop(),
);
if (!reuse) {
  writeFileSync(seedFile, JSON.stringify(seed));
  log(`seeded MLflow's database in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}
started = Date.now();
if (!reuse) execFileSync(
  env('FERROFLOW_BIN', join(repo, 'target/release/ferroflow')),
  ['import', '--from', `sqlite:///${mlflowDb}`, '--to', `sqlite:///${ferroflowDb}`],
  { stdio: ['ignore', 'ignore', 'inherit'] },
);
const importFile = join(workdir, 'import.json');
const importSeconds = reuse
  ? JSON.parse(readFileSync(importFile, 'utf8')).seconds
  : (Date.now() - started) / 1000;
writeFileSync(importFile, JSON.stringify({ seconds: importSeconds }));
log(`imported it into ferroflow in ${importSeconds.toFixed(1)} s`);

const servers = {};
async function startServer(kind) {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const logFile = openSync(join(workdir, `${kind}.log`), 'w');
  const args =
    kind === 'ferroflow'
      ? ['server', '--host', '127.0.0.1', '--port', String(port)]
      : ['server', '--host', '127.0.0.1', '--port', String(port)];
  args.push(
    '--backend-store-uri',
    `sqlite:///${kind === 'ferroflow' ? ferroflowDb : mlflowDb}`,
    '--artifacts-destination',
    artifacts,
  );
  const bin = kind === 'ferroflow' ? env('FERROFLOW_BIN') : env('MLFLOW_BIN');
  const child = spawn(bin, args, {
    stdio: ['ignore', logFile, logFile],
    detached: true,
    env: { ...process.env, MLFLOW_DISABLE_TELEMETRY: 'true', DO_NOT_TRACK: 'true' },
  });
  await waitUp(url, child);
  servers[kind] = { url, child };
  return url;
}

function stopServers() {
  for (const { child } of Object.values(servers)) {
    try {
      process.kill(-child.pid, 'SIGTERM');
    } catch {}
  }
}

// ---------------------------------------------------------------- page drivers

// How each UI is reached and what "shown" means on it. Both wait for the same thing: the
// newest run's name (the first row of a table sorted by start time, newest first).
const UIS = {
  ferroflow: {
    table: (url) => `${url}/experiments/${seed.table_experiment}`,
    scroller: '.vtable-scroll',
    // The table pages in 1,000 runs at a time as it scrolls: the end is all runs loaded.
    pagesIn: true,
  },
  mlflow: {
    table: (url) => `${url}/#/experiments/${seed.table_experiment}/runs`,
    // MLflow's runs table (ag-grid) shows 100 runs, and more behind a "Load more" button.
    scroller: '.ag-body-viewport',
    pagesIn: false,
  },
};

async function newPage(browser) {
  const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
  const page = await context.newPage();
  return { context, page };
}

/** Milliseconds from navigation start until the newest run's name is in the page. */
async function timeToFirstRows(browser, kind) {
  const { context, page } = await newPage(browser);
  try {
    await page.goto(UIS[kind].table(servers[kind].url), { waitUntil: 'commit' });
    const handle = await page.waitForFunction(
      (name) => (document.body?.textContent.includes(name) ? performance.now() : null),
      seed.newest_table_run,
      { polling: 'raf', timeout: LIMIT_MS },
    );
    return await handle.jsonValue();
  } catch (e) {
    log(`${kind}: runs table did not show in ${LIMIT_MS / 1000} s (${e.message.split('\n')[0]})`);
    return null;
  } finally {
    await context.close();
  }
}

/** Scrolls the runs table from top to bottom, a screenful per frame, and reports the
 * longest frame and the longest main-thread task (Long Tasks API: tasks over 50 ms). */
async function scrollTable(browser, kind) {
  const { context, page } = await newPage(browser);
  try {
    await page.goto(UIS[kind].table(servers[kind].url));
    await page.waitForFunction((name) => document.body?.textContent.includes(name), seed.newest_table_run, {
      timeout: LIMIT_MS,
    });
    await page.waitForSelector(UIS[kind].scroller, { timeout: LIMIT_MS });
    return await page.evaluate(
      async ({ scroller, pagesIn, total, limit }) => {
        // ferroflow's status line reads "<n> runs loaded", with "(more on scroll)" until the end.
        const done = () => {
          if (!pagesIn) return true;
          const status = [...document.querySelectorAll('p.muted')].find((p) =>
            /runs loaded/.test(p.textContent),
          );
          return !!status && status.textContent.startsWith(`${total} runs loaded`) && !/more/.test(status.textContent);
        };
        const el = document.querySelector(scroller);
        let longestTask = 0;
        const observer = new PerformanceObserver((list) => {
          for (const e of list.getEntries()) longestTask = Math.max(longestTask, e.duration);
        });
        observer.observe({ type: 'longtask' });
        const frame = () => new Promise((r) => requestAnimationFrame(r));
        await frame();
        let last = performance.now();
        const begin = last;
        let longestFrame = 0;
        let frames = 0;
        for (;;) {
          el.scrollTop += el.clientHeight;
          await frame();
          const now = performance.now();
          longestFrame = Math.max(longestFrame, now - last);
          last = now;
          frames++;
          const atEnd = el.scrollTop + el.clientHeight >= el.scrollHeight - 2;
          if (atEnd && done()) break;
          if (now - begin > limit) return { timedOut: true, frames };
        }
        observer.disconnect();
        const rows = el.scrollHeight;
        return { longestTask, longestFrame, frames, ms: last - begin, scrollHeight: rows };
      },
      { scroller: UIS[kind].scroller, pagesIn: UIS[kind].pagesIn, total: sizes.tableRuns, limit: LIMIT_MS },
    );
  } catch (e) {
    log(`${kind}: scrolling failed (${e.message.split('\n')[0]})`);
    return null;
  } finally {
    await context.close();
  }
}

/** The chart page of `runIds`' `loss` on each UI, and whether it is drawn. */
const CHARTS = {
  ferroflow: {
    url: (base, exp, runIds) => `${base}/experiments/${exp}/chart?runs=${runIds.join(',')}&metric=loss`,
    plotArea: '[aria-label="chart loss"] .u-over',
  },
  mlflow: {
    // MLflow's metric page (Compare runs → a metric): one get-history read per run and
    // page of 25,000 points, drawn with Plotly.
    url: (base, exp, runIds) =>
      `${base}/#/metric?${new URLSearchParams({
        runs: JSON.stringify(runIds),
        metric: '"loss"',
        experiments: JSON.stringify([String(exp)]),
        plot_metric_keys: '["loss"]',
        plot_layout: '{}',
        x_axis: 'step',
      })}`,
    plotArea: '.js-plotly-plot .nsewdrag',
  },
};

/** In the page: `performance.now()` once the chart of `count` runs is drawn, else null.
 * ferroflow's chart says how many points it drew once uPlot has drawn them; MLflow's page
 * counts its loaded runs ("10/10") and Plotly draws a trace per run. Passed to the page as
 * a function (a string would be eval'd, which ferroflow's CSP forbids). */
function chartDrawnAt({ kind, count }) {
  let drawn;
  if (kind === 'ferroflow') {
    const info = document.querySelector('.chart-last[data-metric=loss]');
    drawn = !!info && Number(info.dataset.points) > 0 && !!document.querySelector('.chart canvas');
  } else {
    drawn =
      document.querySelectorAll('.js-plotly-plot .scatterlayer .trace').length >= count &&
      document.body.textContent.includes(`${count}/${count}`);
  }
  return drawn ? performance.now() : null;
}

/** Milliseconds from navigation start until the chart of every chart run is drawn. */
async function timeToChart(browser, kind) {
  const { context, page } = await newPage(browser);
  const spec = CHARTS[kind];
  try {
    await page.goto(spec.url(servers[kind].url, seed.chart_experiment, seed.chart_runs), { waitUntil: 'commit' });
    const handle = await page.waitForFunction(
      chartDrawnAt,
      { kind, count: seed.chart_runs.length },
      { polling: 'raf', timeout: LIMIT_MS },
    );
    const ms = await handle.jsonValue();
    const zoom = await zoomOnce(page, kind);
    return { ms, zoom };
  } catch (e) {
    log(`${kind}: chart not drawn in ${LIMIT_MS / 1000} s (${e.message.split('\n')[0]})`);
    return { ms: null, zoom: null };
  } finally {
    await context.close();
  }
}

const nextFrames = (page) =>
  page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));

/** Drags over the middle tenth of the plot and times until the zoomed chart is drawn:
 * ferroflow refetches that step range from the server; MLflow's Plotly rescales what it
 * already holds. */
async function zoomOnce(page, kind) {
  const area = page.locator(CHARTS[kind].plotArea).first();
  const box = await area.boundingBox();
  if (!box) return null;
  const y = box.y + box.height / 2;
  await page.mouse.move(box.x + box.width * 0.45, y);
  await page.mouse.down();
  await page.mouse.move(box.x + box.width * 0.55, y, { steps: 4 });
  const refetched =
    kind === 'ferroflow' ? page.waitForResponse((r) => r.url().includes('/charts/series'), { timeout: 10_000 }) : null;
  const ticks = () => page.$$eval('.js-plotly-plot .xtick text', (t) => t.map((x) => x.textContent).join(','));
  const before = kind === 'mlflow' ? await ticks() : '';
  const started = Date.now();
  await page.mouse.up();
  if (refetched) {
    await refetched;
    await page.waitForURL(/from=\d+/);
  } else {
    await page.waitForFunction((old) => {
      const now = [...document.querySelectorAll('.js-plotly-plot .xtick text')].map((x) => x.textContent).join(',');
      return now !== old;
    }, before, { polling: 'raf', timeout: 10_000 });
  }
  await nextFrames(page);
  return Date.now() - started;
}

/** Opens a chart of one RUNNING run, logs a point through the REST API (as the client's
 * `log_metric` does), and times until the page shows it. */
async function liveLatency(browser, kind) {
  const base = servers[kind].url;
  const post = async (rpc, body) => {
    const r = await fetch(`${base}/api/2.0/mlflow/${rpc}`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(body),
    });
    if (!r.ok) throw new Error(`${rpc}: ${r.status} ${await r.text()}`);
    return r.json();
  };
  const { run } = await post('runs/create', { experiment_id: String(seed.chart_experiment), run_name: 'live' });
  const runId = run.info.run_id;
  const now = Date.now();
  await post('runs/log-batch', {
    run_id: runId,
    metrics: Array.from({ length: 100 }, (_, step) => ({ key: 'loss', value: 1 / (step + 1), timestamp: now, step })),
  });
  const { context, page } = await newPage(browser);
  const spec = CHARTS[kind];
  try {
    await page.goto(spec.url(base, seed.chart_experiment, [runId]));
    await page.waitForFunction(chartDrawnAt, { kind, count: 1 }, { timeout: LIMIT_MS });
    if (kind === 'ferroflow') await page.locator('[data-live=on]').waitFor();
    await page.waitForTimeout(1000);
    const value = 0.123456789;
    const started = Date.now();
    await post('runs/log-metric', { run_id: runId, key: 'loss', value, timestamp: Date.now(), step: 100 });
    await page.waitForFunction(
      ({ kind, value }) =>
        kind === 'ferroflow'
          ? document.querySelector('.chart-last[data-metric=loss]')?.dataset.lastStep === '100'
          : document.body.textContent.includes(String(value)),
      { kind, value },
      { polling: 100, timeout: LIMIT_MS },
    );
    return Date.now() - started;
  } catch (e) {
    log(`${kind}: the live point did not show in ${LIMIT_MS / 1000} s (${e.message.split('\n')[0]})`);
    return null;
  } finally {
    await context.close();
  }
}

// ---------------------------------------------------------------- the run

const fmtMs = (ms) => (ms === null || ms === undefined ? '—' : `${Math.round(ms)} ms`);
// MLflow's figure over ferroflow's; where MLflow did not finish in the limit, at least
// the limit over ferroflow's.
const ratio = (ff, ml) => {
  if (!ff) return '—';
  if (ml === null || ml === undefined) return `> ${Math.floor(LIMIT_MS / ff)}×`;
  return `${(ml / ff).toFixed(1)}×`;
};

let browser;
const results = { sizes, importSeconds, figures: {} };
try {
  for (const kind of UIS_MEASURED) await startServer(kind);
  browser = await chromium.launch({
    executablePath: env('CHROMIUM', '/usr/bin/chromium'),
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'],
  });
  for (const kind of UIS_MEASURED) {
    const firstRows = [];
    for (let i = 0; i < REPEAT; i++) firstRows.push(await timeToFirstRows(browser, kind));
    const scroll = await scrollTable(browser, kind);
    const charts = [];
    for (let i = 0; i < REPEAT; i++) charts.push(await timeToChart(browser, kind));
    const live = await liveLatency(browser, kind);
    results.figures[kind] = {
      firstRows,
      firstRowsMedian: median(firstRows),
      scroll,
      charts,
      chartMedian: median(charts.map((c) => c.ms)),
      zoomMedian: median(charts.map((c) => c.zoom)),
      live,
    };
    log(
      `${kind}: first rows ${firstRows.map(fmtMs).join(', ')}; scroll ${JSON.stringify(scroll)}; ` +
        `charts ${JSON.stringify(charts)}; live ${fmtMs(live)}`,
    );
  }
} finally {
  await browser?.close();
  stopServers();
}
writeFileSync(join(workdir, 'results.json'), JSON.stringify(results, null, 2));

const ff = results.figures.ferroflow ?? {};
const ml = results.figures.mlflow ?? {};
const lines = [
  '<!-- ui-bench:start -->',
  '## Web UI: ferroflow vs MLflow 3.17.2\'s UI',
  '',
  `Written by \`bench/ui.sh\` on ${new Date().toISOString().slice(0, 16)} UTC. Same headless Chromium, same data`,
  `(one MLflow database, imported into ferroflow in ${importSeconds.toFixed(1)} s), median of ${REPEAT} cold loads.`,
  '',
  '| measure | target | ferroflow | MLflow | MLflow / ferroflow |',
  '|---|---|---|---|---|',
  `| runs table of ${sizes.tableRuns.toLocaleString('en')} runs: navigation → first rows | ≤ 300 ms | ${fmtMs(ff.firstRowsMedian)} | ${fmtMs(ml.firstRowsMedian)} | ${ratio(ff.firstRowsMedian, ml.firstRowsMedian)} |`,
  `| scrolling it top to bottom: longest task (longest frame) | ≤ 50 ms | ${scrollCell(ff.scroll)} | ${scrollCell(ml.scroll)} | — |`,
  `| chart of ${sizes.chartRuns} runs × ${sizes.chartPoints.toLocaleString('en')} points: navigation → drawn | ≤ 500 ms | ${fmtMs(ff.chartMedian)} | ${orLimit(ml.chartMedian)} | ${ratio(ff.chartMedian, ml.chartMedian)} |`,
  `| zoom: drag → redrawn (ferroflow refetches the range) | ≤ 150 ms | ${fmtMs(ff.zoomMedian)} | ${ml.zoomMedian ? fmtMs(ml.zoomMedian) : 'no chart to zoom'} | ${ml.zoomMedian ? ratio(ff.zoomMedian, ml.zoomMedian) : '—'} |`,
  `| live: \`log-metric\` → the point on an open chart | ≤ 1 s | ${fmtMs(ff.live)} | ${orLimit(ml.live)} | ${ratio(ff.live, ml.live)} |`,
  '',
  `ferroflow scrolls all ${sizes.tableRuns.toLocaleString('en')} runs (paged in from the server as it goes); MLflow's table holds its first`,
  "100 runs and more only behind its *Load more* button, so its figure covers those 100.",
  '<!-- ui-bench:end -->',
];

function orLimit(ms) {
  return ms === null || ms === undefined ? `not in ${LIMIT_MS / 1000} s` : fmtMs(ms);
}

function scrollCell(s) {
  if (!s) return 'failed';
  if (s.timedOut) return `not done in ${LIMIT_MS / 1000} s`;
  const task = s.longestTask > 0 ? fmtMs(s.longestTask) : '< 50 ms';
  return `${task} (${fmtMs(s.longestFrame)})`;
}

const section = lines.join('\n');
console.log(section);
const resultsPath = UIS_MEASURED.length === 2 ? env('BENCH_RESULTS') : undefined;
if (resultsPath) {
  let text = '';
  try {
    text = readFileSync(resultsPath, 'utf8');
  } catch {}
  const start = text.indexOf('<!-- ui-bench:start -->');
  const end = text.indexOf('<!-- ui-bench:end -->');
  text =
    start >= 0 && end > start
      ? text.slice(0, start) + section + text.slice(end + '<!-- ui-bench:end -->'.length)
      : `${text.trimEnd()}\n\n${section}\n`;
  writeFileSync(resultsPath, text);
  log(`UI section written to ${resultsPath}`);
}
