// e2e tests of the runs table (seed: seed_runs_table in e2e/seed.py, two experiments of
// their own), registered by run.mjs: deleting and restoring ticked runs, completion of
// keys in the filter box, the runs of several experiments at once.
import assert from 'node:assert/strict';

export function runsTableTests({ test, page, base, seed, shot }) {
  const rt = seed.runs_table;
  const names = async () =>
    (
      await page.$$eval(
        '[aria-label="runs"] [role=row][data-key] [data-col="attributes.run_name"]',
        (cells) => cells.map((c) => c.textContent),
      )
    ).sort();
  // The rows, once they are these (a view's first render may still show the previous rows).
  const expectNames = async (expected) => {
    for (let i = 0; i < 50 && JSON.stringify(await names()) !== JSON.stringify(expected); i++)
      await page.waitForTimeout(100);
    assert.deepEqual(await names(), expected);
  };
  const tick = (name) =>
    page
      .locator('[aria-label="runs"] [role=row][data-key]', { hasText: name })
      .getByLabel('select row')
      .check();

  test('runs table: delete two ticked runs, then restore them from the deleted view', async () => {
    await page.goto(`${base}/experiments/${rt.a.experiment_id}`);
    await page.getByText('4 runs loaded').waitFor();
    await tick('rt-a1');
    await tick('rt-a2');
    await page.getByRole('button', { name: 'Delete selected (2)' }).click();
    // Nothing is deleted before the confirmation; Cancel keeps both.
    const confirm = page.getByRole('alertdialog', { name: 'confirm delete' });
    await confirm.getByText('Delete 2 runs? They can be restored').waitFor();
    await confirm.getByRole('button', { name: 'Cancel' }).click();
    assert.equal(await confirm.count(), 0);
    await expectNames(['rt-a1', 'rt-a2', 'rt-a3', 'rt-a4']);
    // Escape cancels too (the confirmation has the focus when it opens).
    await page.getByRole('button', { name: 'Delete selected (2)' }).click();
    await page.waitForFunction(() => document.activeElement?.textContent === 'Delete 2 runs');
    await page.keyboard.press('Escape');
    await confirm.waitFor({ state: 'detached' });
    await page.getByRole('button', { name: 'Delete selected (2)' }).click();
    await confirm.getByRole('button', { name: 'Delete 2 runs' }).click();
    await page.getByRole('status').getByText('Deleted 2 runs.').waitFor();
    await page.getByText('2 runs loaded').waitFor();
    await expectNames(['rt-a3', 'rt-a4']);
    assert.doesNotMatch(page.url(), /sel=/, 'the selection is cleared');
    // The deleted view (kept in the URL) lists them; restore both with the header's
    // "select all loaded" box.
    await page.getByLabel('lifecycle').selectOption('DELETED_ONLY');
    await page.waitForURL(/view=DELETED_ONLY/);
    await page.getByText('2 runs loaded').waitFor();
    await expectNames(['rt-a1', 'rt-a2']);
    await page.reload();
    await page.getByText('2 runs loaded').waitFor();
    await expectNames(['rt-a1', 'rt-a2']);
    await page.getByLabel('select all loaded rows').check();
    await shot('runs-deleted-view');
    await page.getByRole('button', { name: 'Restore selected (2)' }).click();
    await page.getByRole('status').getByText('Restored 2 runs.').waitFor();
    await page.getByText('0 runs loaded').waitFor();
    await page.getByLabel('lifecycle').selectOption('ALL');
    await page.getByText('4 runs loaded').waitFor();
    const states = await page.$$eval(
      '[aria-label="runs"] [role=row][data-key] [data-col="attributes.lifecycle_stage"]',
      (cells) => cells.map((c) => c.textContent),
    );
    assert.deepEqual(states, ['active', 'active', 'active', 'active']);
    await page.getByLabel('lifecycle').selectOption('ACTIVE_ONLY');
    await page.getByText('4 runs loaded').waitFor();
    await expectNames(['rt-a1', 'rt-a2', 'rt-a3', 'rt-a4']);
  });

  test('runs table: completion of keys in the filter box, driven by the keyboard', async () => {
    await page.goto(`${base}/experiments/${rt.a.experiment_id}`);
    await page.getByText('4 runs loaded').waitFor();
    const box = page.getByRole('combobox', { name: 'filter runs' });
    const list = page.getByRole('listbox', { name: 'filter completions' });
    const options = () => list.getByRole('option').allTextContents();
    const activeOption = async () => {
      const id = await box.getAttribute('aria-activedescendant');
      return id && page.locator(`[id="${id}"]`).textContent();
    };
    await box.click();
    await box.pressSequentially('params.');
    await list.waitFor();
    assert.equal(await box.getAttribute('aria-expanded'), 'true');
    assert.deepEqual(await options(), ['params.batch_size', 'params.`dropout rate`']);
    assert.equal(await activeOption(), 'params.batch_size');
    await box.press('ArrowDown');
    assert.equal(await activeOption(), 'params.`dropout rate`');
    assert.equal(
      await list
        .getByRole('option', { name: 'params.`dropout rate`' })
        .getAttribute('aria-selected'),
      'true',
    );
    await box.press('ArrowUp');
    assert.equal(await activeOption(), 'params.batch_size');
    await shot('runs-completion');
    await box.press('Enter');
    await list.waitFor({ state: 'detached' });
    assert.equal(await box.inputValue(), 'params.batch_size ');
    assert.equal(await page.getByText('4 runs loaded').count(), 1, 'accepting does not submit');
    await box.pressSequentially("= '64'");
    assert.equal(await list.count(), 0, 'no completion of values');
    await box.press('Enter');
    await page.getByText('2 runs loaded').waitFor();
    await expectNames(['rt-a2', 'rt-a4']);
    assert.match(decodeURIComponent(page.url()), /filter=params\.batch_size/);
    // A key word of the middle of a key, Tab to accept; a key with a space is backticked.
    await box.fill('');
    await box.pressSequentially('ropo');
    await list.getByRole('option', { name: 'params.`dropout rate`' }).waitFor();
    await box.press('Tab');
    assert.equal(await box.inputValue(), 'params.`dropout rate` ');
    await box.pressSequentially("= '0.2' AND own");
    assert.equal(await activeOption(), 'tags.owner');
    // Escape closes the list and keeps the text.
    await box.press('Escape');
    await list.waitFor({ state: 'detached' });
    assert.equal(await box.getAttribute('aria-expanded'), 'false');
    await box.pressSequentially('e');
    await box.press('Enter');
    assert.equal(await box.inputValue(), "params.`dropout rate` = '0.2' AND tags.owner ");
    await box.pressSequentially("= 'ana'");
    await box.press('Enter');
    await page.getByText('2 runs loaded').waitFor();
    await expectNames(['rt-a2', 'rt-a4']);
  });

  test('runs table: two experiments ticked in the list, their runs in one table', async () => {
    await page.goto(`${base}/`);
    await page.getByLabel('select experiment ui-e2e-runs-table', { exact: true }).check();
    await page.getByLabel('select experiment ui-e2e-runs-table-b', { exact: true }).check();
    await page.getByRole('button', { name: 'Open runs (2)' }).click();
    await page.waitForURL(`${base}/runs?exp=${rt.a.experiment_id},${rt.b.experiment_id}`);
    await page.locator('h1', { hasText: 'Runs of 2 experiments' }).waitFor();
    await page.getByText('6 runs loaded').waitFor();
    await expectNames(['rt-a1', 'rt-a2', 'rt-a3', 'rt-a4', 'rt-b1', 'rt-b2']);
    // The experiment column names each run's experiment.
    await page.waitForFunction(() =>
      document.querySelector('[data-col="experiment"]')?.textContent?.startsWith('ui-e2e'),
    );
    const byRun = Object.fromEntries(
      await page.$$eval('[aria-label="runs"] [role=row][data-key]', (rows) =>
        rows.map((r) => [
          r.querySelector('[data-col="attributes.run_name"]').textContent,
          r.querySelector('[data-col="experiment"]').textContent,
        ]),
      ),
    );
    assert.equal(byRun['rt-a1'], 'ui-e2e-runs-table');
    assert.equal(byRun['rt-b2'], 'ui-e2e-runs-table-b');
    await shot('runs-two-experiments');
    // Filtering searches both; the URL keeps both experiments and the filter.
    await page.getByLabel('filter runs').fill("params.batch_size = '32'");
    await page.getByLabel('filter runs').press('Enter');
    await page.getByText('3 runs loaded').waitFor();
    await expectNames(['rt-a1', 'rt-a3', 'rt-b1']);
    assert.match(
      page.url(),
      new RegExp(`/runs\\?exp=${rt.a.experiment_id},${rt.b.experiment_id}&filter=`),
    );
    await page.reload();
    await page.getByText('3 runs loaded').waitFor();
    // Runs of two experiments cannot be charted together (the chart is per experiment);
    // a run of the second experiment charts under its own experiment.
    await tick('rt-a1');
    await tick('rt-b1');
    assert.equal(await page.getByRole('button', { name: 'Chart selected (2)' }).isDisabled(), true);
    await page
      .locator('[aria-label="runs"] [role=row][data-key]', { hasText: 'rt-a1' })
      .getByLabel('select row')
      .uncheck();
    await page.getByRole('button', { name: 'Chart selected (1)' }).click();
    await page.waitForURL(
      `${base}/experiments/${rt.b.experiment_id}/chart?runs=${rt.b.runs['rt-b1']}`,
    );
  });

  test('runs table: tag columns in the picker, keyboard row navigation', async () => {
    await page.goto(`${base}/experiments/${rt.a.experiment_id}`);
    await page.getByText('4 runs loaded').waitFor();
    await page.locator('summary', { hasText: 'Columns' }).click();
    const tags = page.getByRole('list', { name: 'Tags columns' });
    assert.deepEqual(await tags.locator('label').allTextContents(), [' tags.owner', ' tags.team']);
    await tags.getByLabel('tags.owner').check();
    await page.waitForURL(/cols=.*tags\.owner/);
    await page.locator('summary', { hasText: 'Columns' }).click();
    const owners = await page.$$eval('[aria-label="runs"] [data-col="tags.owner"]', (c) =>
      c.map((x) => x.textContent),
    );
    assert.deepEqual(owners, ['ana', 'bo', 'ana', 'bo']);
    // Rows are one Tab stop; arrows move, Space ticks, Enter opens.
    const focused = () =>
      page.evaluate(() => {
        const row = document.activeElement?.closest('[role=row][data-key]');
        return row?.querySelector('[data-col="attributes.run_name"]')?.textContent;
      });
    await page.locator('[aria-label="runs"] [role=row][data-index="0"]').focus();
    assert.equal(await focused(), 'rt-a4');
    await page.keyboard.press('ArrowDown');
    assert.equal(await focused(), 'rt-a3');
    await page.keyboard.press('Space');
    await page.waitForURL(new RegExp(`sel=${rt.a.runs['rt-a3']}`));
    assert.equal(
      await page
        .locator('[role=row][aria-selected=true]')
        .locator('[data-col="attributes.run_name"]')
        .textContent(),
      'rt-a3',
    );
    assert.equal(await focused(), 'rt-a3', 'focus stays on the row');
    await page.keyboard.press('End');
    assert.equal(await focused(), 'rt-a1');
    await page.keyboard.press('ArrowUp');
    assert.equal(await focused(), 'rt-a2');
    await page.keyboard.press('Home');
    assert.equal(await focused(), 'rt-a4');
    await page.keyboard.press('Space');
    await page.getByRole('button', { name: 'Compare selected (2)' }).waitFor();
    await shot('runs-keyboard');
    await page.keyboard.press('ArrowDown');
    await page.keyboard.press('ArrowDown');
    await page.keyboard.press('Enter');
    await page.waitForURL(`${base}/runs/${rt.a.runs['rt-a2']}`);
    await page.locator('h1', { hasText: 'rt-a2' }).waitFor();
  });
}
