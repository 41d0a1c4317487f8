// End-to-end tests of the web UI in real headless Chromium (Debian's /usr/bin/chromium,
// driven by playwright-core), against a real ferroflow binary on a free port with a temp
// store, over data created by the real mlflow client (e2e/seed.py).
//
//   FERROFLOW_BIN   the binary (default: $CARGO_TARGET_DIR or ../target, debug/ferroflow)
//   MLFLOW_PYTHON   python with mlflow (default: ../.venv/mlflow3/bin/python)
//   CHROMIUM        browser (default: /usr/bin/chromium)
//   E2E_ONLY        run only the tests whose name matches this regular expression
// Screenshots go to ui/test-results/.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { authTests } from './auth.mjs';
import { chartTests } from './charts.mjs';
import { startFerroflow } from './net.mjs';
import { watchProblems } from './problems.mjs';
import { runPageTests } from './run-page.mjs';
import { runsTableTests } from './runs-table.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, '../..');
const targetDir = process.env.CARGO_TARGET_DIR ?? join(repo, 'target');
const bin = process.env.FERROFLOW_BIN ?? join(targetDir, 'debug/ferroflow');
const python = process.env.MLFLOW_PYTHON ?? join(repo, '.venv/mlflow3/bin/python');
const out = join(here, '../test-results');
mkdirSync(out, { recursive: true });

const tests = [];
const test = (name, fn) => tests.push({ name, fn });

const data = mkdtempSync(join(tmpdir(), 'ferroflow-ui-e2e-'));
let base;
let server;
let browser;
let closeAuth;
let failed = 0;
try {
  ({ base, server } = await startFerroflow({ bin, data, log: join(out, 'ferroflow.log') }));
  const seedFile = join(data, 'seed.json');
  execFileSync(python, [join(here, 'seed.py'), seedFile], {
    env: { ...process.env, MLFLOW_TRACKING_URI: base, GIT_PYTHON_REFRESH: 'quiet' },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const seed = JSON.parse(readFileSync(seedFile, 'utf8'));
  const exp = seed.experiment_id;
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
  });
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  const problems = [];
  watchProblems(page, problems);
  const shot = (name) => page.screenshot({ path: join(out, `${name}.png`), fullPage: true });
  const runNames = async () =>
    page.$$eval(
      '[aria-label="runs"] [role=row][data-key] [data-col="attributes.run_name"]',
      (cells) => cells.map((c) => c.textContent),
    );

  test('experiments list: search, create, rename, delete and restore', async () => {
    await page.goto(`${base}/`);
    await page.getByRole('link', { name: 'ui-e2e', exact: true }).waitFor();
    await page.getByLabel('new experiment name').fill('scratch-exp');
    await page.getByLabel('new experiment name').press('Enter');
    await page.waitForURL(/\/experiments\/\d+/);
    await page.goto(`${base}/?q=scratch`);
    const row = page.locator('tr', { hasText: 'scratch-exp' });
    await row.getByRole('button', { name: 'Rename' }).click();
    await page.getByLabel('experiment name', { exact: true }).fill('scratch-renamed');
    await page.getByLabel('experiment name', { exact: true }).press('Enter');
    await page.getByRole('link', { name: 'scratch-renamed' }).waitFor();
    assert.equal(
      await page.getByRole('link', { name: 'ui-e2e', exact: true }).count(),
      0,
      'search filters',
    );
    await shot('experiments');
    await page
      .locator('tr', { hasText: 'scratch-renamed' })
      .getByRole('button', { name: 'Delete' })
      .click();
    await page.getByText('No experiments.').waitFor();
    await page.getByLabel('lifecycle').selectOption('DELETED_ONLY');
    await page
      .locator('tr', { hasText: 'scratch-renamed' })
      .getByRole('button', { name: 'Restore' })
      .click();
    await page.getByText('No experiments.').waitFor();
    await page.getByLabel('lifecycle').selectOption('ACTIVE_ONLY');
    await page.getByRole('link', { name: 'scratch-renamed' }).waitFor();
  });

  test('runs table: filter, sort, inline filter errors, state in the URL', async () => {
    await page.goto(`${base}/experiments/${exp}?cols=params.lr,metrics.accuracy`);
    await page.getByText('5 runs loaded').waitFor();
    await page.getByLabel('filter runs').fill("params.lr = '0.1'");
    await page.getByLabel('filter runs').press('Enter');
    await page.getByText('2 runs loaded').waitFor();
    assert.deepEqual((await runNames()).sort(), ['train-0', 'train-1']);
    assert.match(page.url(), /filter=params\.lr/);
    // Sort by the accuracy metric, ascending then descending (server-side order_by).
    await page.getByLabel('filter runs').fill("params.lr IN ('0.1', '0.01')");
    await page.getByLabel('filter runs').press('Enter');
    await page.getByText('4 runs loaded').waitFor();
    await page.getByRole('button', { name: 'metrics.accuracy' }).click();
    await page.waitForURL(/sort=metrics\.accuracy/);
    await page.waitForFunction(
      () => document.querySelector('[data-col="attributes.run_name"]')?.textContent === 'train-0',
    );
    assert.deepEqual(await runNames(), ['train-0', 'train-1', 'train-2', 'train-3']);
    await page.getByRole('button', { name: /metrics\.accuracy/ }).click();
    await page.waitForURL(/desc=1/);
    await page.waitForFunction(
      () => document.querySelector('[data-col="attributes.run_name"]')?.textContent === 'train-3',
    );
    assert.deepEqual(await runNames(), ['train-3', 'train-2', 'train-1', 'train-0']);
    await shot('runs');
    // The link reproduces the view.
    const url = page.url();
    await page.goto(url);
    await page.getByText('4 runs loaded').waitFor();
    assert.deepEqual(await runNames(), ['train-3', 'train-2', 'train-1', 'train-0']);
    // A bad filter shows the server's 400 message inline.
    await page.getByLabel('filter runs').fill('params.lr ==== oops');
    await page.getByLabel('filter runs').press('Enter');
    const alert = page.getByRole('alert');
    await alert.waitFor();
    assert.ok((await alert.textContent()).length > 10, 'the error message is shown');
  });

  test('run page: overview and image artifact preview', async () => {
    await page.goto(`${base}/runs/${seed.runs['train-0']}`);
    await page.locator('h1', { hasText: 'train-0' }).waitFor();
    await page.getByRole('table', { name: 'overview' }).getByText('deadbeef0').waitFor();
    assert.equal(
      await page
        .locator('[aria-label="parameters"] tr', { hasText: 'lr' })
        .locator('td')
        .textContent(),
      '0.1',
    );
    await page.getByRole('button', { name: 'plots/' }).click();
    await page.getByRole('button', { name: 'confusion.png' }).click();
    const img = page.locator('img.preview-image');
    await img.waitFor();
    await page.waitForFunction(() => {
      const i = document.querySelector('img.preview-image');
      return i?.complete && i.naturalWidth > 0;
    });
    assert.equal(await img.evaluate((i) => i.naturalWidth), 32);
    await shot('run');
    await page.getByRole('button', { name: '..' }).click();
    await page.getByRole('button', { name: 'notes.txt' }).click();
    await page.locator('pre.text-preview', { hasText: 'hello from the e2e seed' }).waitFor();
    assert.equal(
      await page.locator('.artifact-preview img').count(),
      0,
      'artifact text renders inert',
    );
  });

  test('chart: two runs, then grouped by a param', async () => {
    const ids = [seed.runs['train-0'], seed.runs['train-2']];
    await page.goto(`${base}/experiments/${exp}?sel=${ids.join(',')}`);
    await page.getByRole('button', { name: 'Chart selected (2)' }).click();
    await page.waitForURL(/\/chart\?runs=/);
    await page.locator('.chart canvas').waitFor();
    await page.getByLabel('metric').selectOption('loss');
    await page.waitForURL(/metric=loss/);
    await page.getByText('20 points').waitFor();
    const legend = () => page.$$eval('[aria-label=legend] li', (l) => l.map((x) => x.textContent));
    assert.deepEqual((await legend()).sort(), ['train-0', 'train-2']);
    // All four training runs grouped by lr: two groups of two, mean with a min/max band.
    const all = ['train-0', 'train-1', 'train-2', 'train-3'].map((k) => seed.runs[k]).join(',');
    await page.goto(`${base}/experiments/${exp}/chart?runs=${all}&metric=loss`);
    await page.getByText('40 points').waitFor();
    await page.getByLabel('group by').selectOption('lr');
    await page.waitForURL(/group=lr/);
    await page.getByText('lr=0.1 (2 runs)').waitFor();
    assert.deepEqual((await legend()).sort(), ['lr=0.01 (2 runs)', 'lr=0.1 (2 runs)']);
    const box = await page.locator('.chart canvas').boundingBox();
    assert.ok(box && box.width > 400 && box.height > 200, 'the canvas is drawn');
    await shot('chart');
  });

  test('comparison: diff table, parallel coordinates, scatter, parameter importance', async () => {
    const ids = ['train-0', 'train-1', 'train-2', 'train-3'].map((k) => seed.runs[k]);
    await page.goto(`${base}/experiments/${exp}?sel=${ids.join(',')}`);
    await page.getByRole('button', { name: 'Compare selected (4)' }).click();
    await page.waitForURL(/\/compare\?runs=/);
    await page.locator('h1', { hasText: 'Compare 4 runs' }).waitFor();
    const diff = page.getByRole('table', { name: 'run differences' });
    // Only differences by default: lr and seed differ, and so do both metrics.
    const rowKeys = () => diff.locator('tbody th').allTextContents();
    assert.deepEqual(await rowKeys(), [
      'params.lr',
      'params.seed',
      'metrics.accuracy',
      'metrics.loss',
    ]);
    const lr = diff.locator('tbody tr', { hasText: 'params.lr' });
    assert.equal(await lr.getAttribute('class'), 'differs');
    assert.deepEqual(await lr.locator('td').allTextContents(), ['0.1', '0.1', '0.01', '0.01']);
    assert.deepEqual(await diff.locator('thead a').allTextContents(), [
      'train-0',
      'train-1',
      'train-2',
      'train-3',
    ]);
    // Parallel coordinates: one axis per differing param, then the metric (SVG text).
    await page.getByLabel('metric', { exact: true }).selectOption('loss');
    await page.waitForURL(/metric=loss/);
    const parallel = page.getByRole('img', { name: 'parallel coordinates' });
    await parallel.locator('svg text', { hasText: 'loss' }).first().waitFor();
    const axisNames = await parallel.locator('svg text').allTextContents();
    for (const name of ['lr', 'seed', 'loss'])
      assert.ok(axisNames.includes(name), `axis ${name} in ${axisNames}`);
    assert.equal((await parallel.locator('svg path').count()) >= 4, true, 'a line per run');
    // Scatter of a param against the metric.
    await page.getByLabel('scatter param').selectOption('lr');
    await page.getByRole('img', { name: 'scatter' }).locator('svg').waitFor();
    // Parameter importance over the experiment's runs with the metric (the hostile run
    // has no loss): lr drives loss far more than seed.
    const importance = page.getByRole('table', { name: 'parameter importance' });
    await importance.waitFor();
    await page.getByText('Based on 4 runs of this experiment with loss').waitFor();
    assert.deepEqual(await importance.locator('tbody th').allTextContents(), ['lr', 'seed']);
    const top = Number(
      await importance.locator('tbody tr').first().locator('td .mono').textContent(),
    );
    assert.ok(top > 0.8, `lr importance ${top}`);
    await shot('compare');
    // The whole-table toggle shows equal rows too, and the link keeps it.
    await page.getByLabel('Only differences').uncheck();
    await page.waitForURL(/all=1/);
    await page.reload();
    await diff.waitFor();
    assert.equal(await page.getByLabel('Only differences').isChecked(), false);
  });

  test('registry: transition a version and set an alias', async () => {
    await page.goto(`${base}/models`);
    await page.getByRole('link', { name: seed.model }).click();
    await page.locator('tr[data-version="1"]').waitFor();
    const v1 = page.locator('tr[data-version="1"]');
    await v1.getByLabel('stage for version 1').selectOption('Production');
    await v1.getByRole('button', { name: 'Transition' }).click();
    await page.getByText('Version 1 moved to Production.').waitFor();
    await page.waitForFunction(
      () => document.querySelector('tr[data-version="1"] .stage')?.textContent === 'Production',
    );
    await page.getByLabel('alias', { exact: true }).fill('champion');
    await page.getByLabel('alias version').selectOption('2');
    await page.getByRole('button', { name: 'Set alias' }).click();
    await page.getByText('Alias @champion now points to version 2.').waitFor();
    await page.waitForFunction(
      () => document.querySelector('tr[data-version="2"] .aliases')?.textContent === '@champion',
    );
    await shot('model');
    await page.goto(`${base}/models`);
    await page.getByText('@champion → v2').waitFor();
    await shot('models');
    // Model tags: add one on the model page, then find the model by it.
    await page.getByRole('link', { name: seed.model }).click();
    await page.getByLabel('new tag key').fill('team');
    await page.getByLabel('new tag value').fill('vision');
    await page.getByRole('button', { name: 'Add tag' }).click();
    await page
      .locator('[aria-label="model tags"] tr[data-tag=team] .tag-value', { hasText: 'vision' })
      .waitFor();
    await page.goto(`${base}/models?q=${encodeURIComponent("tags.team = 'vision'")}`);
    await page.getByRole('link', { name: seed.model }).waitFor();
    await page.goto(`${base}/models?q=${encodeURIComponent("tags.team = 'audio'")}`);
    await page.getByText('No registered models.').waitFor();
    // Removing an alias.
    await page.goto(`${base}/models/${encodeURIComponent(seed.model)}`);
    await page.getByRole('button', { name: 'remove alias champion' }).click();
    await page.getByText('Alias @champion removed.').waitFor();
    await page.waitForFunction(
      () => document.querySelector('tr[data-version="2"] .aliases')?.textContent === '',
    );
    assert.equal(await page.getByRole('button', { name: 'remove alias champion' }).count(), 0);
  });

  test('hostile run name, tag and description render inert', async () => {
    const hostile = '<img src=x onerror=alert(1)>';
    await page.goto(`${base}/experiments/${exp}`);
    await page.getByText('5 runs loaded').waitFor();
    assert.ok((await runNames()).includes(hostile), 'the name is shown as text');
    assert.equal(await page.locator('main img').count(), 0);
    await page.goto(`${base}/runs/${seed.runs.hostile}`);
    await page.locator('h1.run-name').waitFor();
    assert.equal(await page.locator('h1.run-name').textContent(), hostile);
    await page
      .locator('[aria-label=tags] tr', { hasText: 'note' })
      .locator('td', { hasText: hostile })
      .waitFor();
    const description = await page.locator('.description').textContent();
    assert.ok(description.includes(hostile) && description.includes('<script>alert(2)</script>'));
    assert.equal(await page.locator('img').count(), 0, 'no img element was created');
    assert.equal(await page.locator('main script').count(), 0);
    await shot('hostile-run');
  });

  runPageTests({ test, page, base, seed, shot, problems });
  chartTests({ test, page, base, seed, shot });
  runsTableTests({ test, page, base, seed, shot, problems });
  // Its own ferroflow with --auth, and its own browser context.
  closeAuth = authTests({ test, bin, out, getBrowser: () => browser });

  const only = process.env.E2E_ONLY ? new RegExp(process.env.E2E_ONLY) : undefined;
  if (only) tests.splice(0, tests.length, ...tests.filter((t) => only.test(t.name)));

  for (const t of tests) {
    const started = Date.now();
    try {
      problems.length = 0;
      await t.fn();
      assert.deepEqual(problems, [], 'no page errors, dialogs or console errors');
      console.log(`ok   ${t.name} (${Date.now() - started} ms)`);
    } catch (e) {
      failed++;
      console.log(`FAIL ${t.name}\n${e.stack ?? e}`);
      await shot(`failure-${tests.indexOf(t)}`).catch(() => {});
    }
  }
} finally {
  await closeAuth?.();
  await browser?.close();
  server?.kill('SIGTERM');
  rmSync(data, { recursive: true, force: true });
}
console.log(
  failed ? `${failed} of ${tests.length} e2e tests failed` : `all ${tests.length} e2e tests passed`,
);
process.exit(failed ? 1 : 0);
