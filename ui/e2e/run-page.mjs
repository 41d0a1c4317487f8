// e2e tests of the run page (seed: seed_run_page in e2e/seed.py), registered by run.mjs:
// tag editing, the markdown description rendering inert, parent/child links, JSON and CSV
// artifact previews, the reproducibility panel.
import assert from 'node:assert/strict';

export function runPageTests({ test, page, base, seed, shot, problems }) {
  const rp = seed.run_page;
  const runUrl = (id) => `${base}/runs/${id}`;

  test('run page: add a tag, see it after reload, edit it, delete it', async () => {
    await page.goto(runUrl(rp.child));
    await page.locator('h1', { hasText: 'rp-child' }).waitFor();
    await page.getByLabel('new tag key').fill('e2e-note');
    await page.getByLabel('new tag value').fill('<b>first</b>');
    await page.getByRole('button', { name: 'Add tag' }).click();
    const row = page.locator('[aria-label=tags] tr[data-tag="e2e-note"]');
    await row.locator('.tag-value', { hasText: '<b>first</b>' }).waitFor();
    await page.reload();
    await row.locator('.tag-value', { hasText: '<b>first</b>' }).waitFor();
    assert.equal(await row.locator('b').count(), 0, 'the value is text');
    await row.getByRole('button', { name: 'edit tag e2e-note' }).click();
    await page.getByLabel('value of e2e-note').fill('second');
    await page.getByLabel('value of e2e-note').press('Enter');
    await row.locator('.tag-value', { hasText: 'second' }).waitFor();
    // System tags are listed apart, not in the editable table.
    assert.equal(await page.locator('[aria-label=tags] tr', { hasText: 'mlflow.' }).count(), 0);
    assert.ok((await page.locator('[aria-label="system tags"] tr').count()) > 0);
    await row.getByRole('button', { name: 'delete tag e2e-note' }).click();
    await row.waitFor({ state: 'detached' });
    await page.reload();
    await page.locator('[aria-label=tags] tr[data-tag="stage"]').waitFor();
    assert.equal(await row.count(), 0, 'the deleted tag stays deleted');
  });

  test('run page: a markdown description renders, its script, img and javascript: link inert', async () => {
    const dialogs = [];
    const onDialog = (d) => dialogs.push(d.message());
    page.on('dialog', onDialog);
    try {
      await page.goto(runUrl(rp.parent));
      const md = page.locator('.description .markdown');
      await md.waitFor();
      assert.equal(await md.locator('strong').textContent(), 'bold');
      assert.equal(await md.locator('h3').textContent(), 'Run notes');
      assert.equal(await md.locator('table td').first().textContent(), 'acc');
      const text = await md.textContent();
      assert.ok(text.includes("<script>alert('md-script')</script>"), 'the script shows as text');
      assert.ok(text.includes('<img src=x onerror='), 'the img shows as text');
      assert.equal(await md.locator('script, img, iframe').count(), 0);
      const jsLink = md.getByText('click me');
      assert.equal(
        await jsLink.evaluate((e) => e.closest('a')?.getAttribute('href') ?? null),
        null,
      );
      assert.equal(await page.locator('a[href^="javascript:" i]').count(), 0);
      assert.equal(
        await md.getByRole('link', { name: 'docs' }).getAttribute('href'),
        'https://mlflow.org/docs/latest/',
      );
      await jsLink.click();
      await page.waitForTimeout(300);
      assert.deepEqual(dialogs, [], 'no dialog fired');
      assert.equal(page.url(), runUrl(rp.parent));
      // Editing the description: the new markdown shows after saving.
      await page.getByRole('button', { name: 'Edit description' }).click();
      const area = page.getByLabel('description', { exact: true });
      const before = await area.inputValue();
      await area.fill(`${before}\n*edited*`);
      await page.getByRole('button', { name: 'Save description' }).click();
      await md.locator('em', { hasText: 'edited' }).waitFor();
      await page.reload();
      await md.locator('em', { hasText: 'edited' }).waitFor();
      assert.deepEqual(dialogs, [], 'no dialog fired');
    } finally {
      page.off('dialog', onDialog);
    }
  });

  test('run page: the parent links to its child, the child back to the parent', async () => {
    await page.goto(runUrl(rp.parent));
    const children = page.getByRole('list', { name: 'child runs' });
    await children.getByRole('link', { name: 'rp-child' }).click();
    await page.waitForURL(runUrl(rp.child));
    await page.locator('h1', { hasText: 'rp-child' }).waitFor();
    await page.getByText('No child runs.').waitFor();
    await page.getByRole('link', { name: 'parent run' }).click();
    await page.waitForURL(runUrl(rp.parent));
    await page.locator('h1', { hasText: 'rp-parent' }).waitFor();
  });

  test('run page: JSON and CSV artifact previews, datasets, logged model, metric link', async () => {
    await page.goto(runUrl(rp.parent));
    await page.locator('h1', { hasText: 'rp-parent' }).waitFor();
    const datasets = page.getByRole('table', { name: 'input datasets' });
    await datasets.getByText('d1g3st42').waitFor();
    await datasets.getByText('training').waitFor();
    await page.getByRole('list', { name: 'logged models' }).getByText('echo-model').waitFor();
    assert.match(
      await page.locator('[aria-label=metrics] a').first().getAttribute('href'),
      new RegExp(`/experiments/${rp.experiment_id}/chart\\?runs=${rp.parent}&metric=loss`),
    );
    await page.getByRole('button', { name: 'data/' }).click();
    await page.getByRole('link', { name: 'download metrics.json' }).waitFor();
    await page.getByRole('button', { name: 'metrics.json' }).click();
    const json = page.locator('pre.json-preview');
    await json.waitFor();
    assert.equal(
      await json.textContent(),
      JSON.stringify({ accuracy: 0.9, classes: ['cat', 'dog'] }, null, 2),
    );
    await page.getByRole('button', { name: 'table.csv' }).click();
    const table = page.getByRole('table', { name: 'table preview' });
    await table.waitFor();
    const cells = await table.evaluate((t) =>
      [...t.querySelectorAll('tr')].map((r) => [...r.children].map((c) => c.textContent)),
    );
    assert.deepEqual(cells, [
      ['name', 'score', 'note'],
      ['alpha', '1.5', 'has, comma'],
      ['beta', '2', 'two\nlines'],
    ]);
    await page.getByText('2 rows, 3 columns.').waitFor();
    await page.getByRole('button', { name: 'config.yaml' }).click();
    await page.locator('pre.text-preview', { hasText: 'layers: [64, 32]' }).waitFor();
    await shot('run-page');
    // A metric links to its chart.
    await page.locator('[aria-label=metrics] a').first().click();
    await page.waitForURL(/\/chart\?runs=/);
    await page.locator('.chart canvas').waitFor();
  });

  test("run page: a logged model's files, its MLmodel previewed", async () => {
    await page.goto(runUrl(rp.parent));
    await page.getByRole('button', { name: 'files of model echo-model' }).click();
    const files = page.getByRole('list', { name: 'files of echo-model' });
    await files.getByRole('button', { name: 'MLmodel' }).click();
    const summary = page.getByRole('region', { name: 'model summary' });
    await summary.waitFor();
    await summary.locator('.flavors li', { hasText: 'python_function' }).waitFor();
    assert.match(
      await summary
        .getByRole('table', { name: 'model' })
        .locator('tr', { hasText: 'Python' })
        .locator('td')
        .textContent(),
      /^3\.\d+\.\d+$/,
    );
    await files.getByRole('link', { name: 'download requirements.txt' }).waitFor();
    await files.getByRole('button', { name: 'requirements.txt' }).click();
    await page.locator('.model-files pre.text-preview', { hasText: 'mlflow==3.17.2' }).waitFor();
    await shot('run-page-model');
  });

  test('run page: the reproducibility panel shows what is recorded and what is missing', async () => {
    await page.goto(runUrl(rp.parent));
    const panel = page.getByRole('region', { name: 'reproducibility' });
    const item = (id) => panel.locator(`[data-item="${id}"]`);
    await item('git-commit').waitFor();
    assert.equal(await item('git-commit').getAttribute('data-status'), 'recorded');
    await item('git-commit').getByText('cafe1234feed').waitFor();
    assert.equal(await item('git-dirty').getAttribute('data-status'), 'missing');
    await item('git-dirty').getByText('missing', { exact: true }).waitFor();
    assert.equal(await item('seed').getAttribute('data-status'), 'recorded');
    await item('seed').getByText('param random_seed = 42').waitFor();
    await item('datasets').getByText('train-data: d1g3st42').waitFor();
    // From the logged model's MLmodel and requirements.txt.
    await panel.locator('[data-item="python"][data-status="recorded"]').waitFor();
    await item('requirements').getByText('mlflow==3.17.2').waitFor();
    await item('libraries').getByText('not pinned: numpy').waitFor();
    await shot('run-page-repro');
    await page.emulateMedia({ colorScheme: 'dark' });
    await shot('run-page-dark');
    await page.emulateMedia({ colorScheme: 'light' });
    // A run with nothing recorded says so.
    await page.goto(runUrl(rp.child));
    await panel.locator('[data-item="python"][data-status="missing"]').waitFor();
    assert.deepEqual(problems, []);
  });
}
