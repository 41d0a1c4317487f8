// e2e tests of the metric explorer (registered from run.mjs): two RUNNING runs' loss from
// one charts/series call, grouped by a param and by a tag, a zoom that refetches, and a
// point logged through the REST API arriving live over charts/live.
import assert from 'node:assert/strict';

export function chartTests({ test, page, base, seed, shot }) {
  const exp = seed.live_experiment_id;
  const ids = [seed.runs['live-0'], seed.runs['live-1']];
  const chartUrl = (extra = '') =>
    `${base}/experiments/${exp}/chart?runs=${ids.join(',')}&metric=loss${extra}`;
  const legend = () => page.$$eval('[aria-label=legend] li', (l) => l.map((x) => x.textContent));
  const lastStep = () =>
    page.locator('.chart-last[data-metric=loss]').getAttribute('data-last-step');

  test('metric explorer: two runs, grouped by a param and a tag, zoom', async () => {
    await page.goto(chartUrl());
    await page.locator('.chart canvas').waitFor();
    await page.getByText('20 points').waitFor();
    assert.deepEqual((await legend()).sort(), ['live-0', 'live-1']);
    await page.getByLabel('group by').selectOption('lr');
    await page.waitForURL(/group=lr/);
    await page.getByText('lr=0.1 (2 runs)').waitFor();
    assert.deepEqual(await legend(), ['lr=0.1 (2 runs)']);
    await page.getByLabel('group by').selectOption({ label: 'tags.team' });
    await page.waitForURL(/gtag=team/);
    await page.getByText('team=a (1 run)').waitFor();
    assert.deepEqual(await legend(), ['team=a (1 run)', 'team=b (1 run)']);
    // Another metric beside it, and the x axis by another metric.
    await page.getByLabel('add chart').selectOption('epoch');
    await page.waitForURL(/metric=loss%2Cepoch/);
    await page.locator('[aria-label="chart epoch"] canvas').waitFor();
    await page.getByLabel('x axis').selectOption('metric:epoch');
    await page.waitForURL(/x=metric%3Aepoch/);
    await page.locator('[aria-label="chart loss"] canvas').waitFor();
    await shot('chart-explorer');
    // Drag over the middle of the step chart: the URL gets the step range, refetched.
    await page.goto(chartUrl());
    await page.getByText('20 points').waitFor();
    const canvas = page.locator('[aria-label="chart loss"] .u-over');
    const box = await canvas.boundingBox();
    assert.ok(box && box.width > 300);
    await page.mouse.move(box.x + box.width * 0.3, box.y + box.height / 2);
    await page.mouse.down();
    await page.mouse.move(box.x + box.width * 0.5, box.y + box.height / 2, { steps: 5 });
    await page.mouse.up();
    await page.waitForURL(/from=\d+&to=\d+/);
    const url = new URL(page.url());
    const [from, to] = [Number(url.searchParams.get('from')), Number(url.searchParams.get('to'))];
    assert.ok(from >= 1 && to <= 6 && from <= to, `zoomed to ${from}-${to}`);
    await page.getByText(`${2 * (to - from + 1)} points`).waitFor();
    await page.getByRole('button', { name: /Reset zoom/ }).click();
    await page.getByText('20 points').waitFor();
  });

  test('metric explorer: a logged point arrives live', async () => {
    await page.goto(chartUrl('&group=lr'));
    await page.getByText('lr=0.1 (2 runs)').waitFor();
    await page.locator('[data-live=on]').waitFor();
    assert.equal(await lastStep(), '9');
    // Give the subscription a moment to be established before logging.
    await page.waitForTimeout(700);
    const started = Date.now();
    const r = await fetch(`${base}/api/2.0/mlflow/runs/log-metric`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({
        run_id: ids[0],
        key: 'loss',
        value: 0.0625,
        timestamp: Date.now(),
        step: 10,
      }),
    });
    assert.equal(r.status, 200);
    await page.waitForFunction(
      () => document.querySelector('.chart-last[data-metric=loss]')?.dataset.lastStep === '10',
      null,
      { timeout: 5000 },
    );
    const latency = Date.now() - started;
    await page.getByText('last: step 10 = 0.0625 (live-0)').waitFor();
    await page.getByText('21 points').waitFor();
    console.log(`     live point shown ${latency} ms after log-metric`);
    assert.ok(latency < 5000);
    await shot('chart-live');
  });
}
