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
    assert.deepEqual(await names(), ['rt-a1', 'rt-a2', 'rt-a3', 'rt-a4']);
    await page.getByRole('button', { name: 'Delete selected (2)' }).click();
    await confirm.getByRole('button', { name: 'Delete 2 runs' }).click();
    await page.getByRole('status').getByText('Deleted 2 runs.').waitFor();
    await page.getByText('2 runs loaded').waitFor();
    assert.deepEqual(await names(), ['rt-a3', 'rt-a4']);
    assert.doesNotMatch(page.url(), /sel=/, 'the selection is cleared');
    // The deleted view (kept in the URL) lists them; restore both with the header's
    // "select all loaded" box.
    await page.getByLabel('lifecycle').selectOption('DELETED_ONLY');
    await page.waitForURL(/view=DELETED_ONLY/);
    await page.getByText('2 runs loaded').waitFor();
    assert.deepEqual(await names(), ['rt-a1', 'rt-a2']);
    await page.reload();
    await page.getByText('2 runs loaded').waitFor();
    assert.deepEqual(await names(), ['rt-a1', 'rt-a2']);
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
    assert.deepEqual(await names(), ['rt-a1', 'rt-a2', 'rt-a3', 'rt-a4']);
  });
}
