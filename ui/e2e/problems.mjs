// What a page does wrong during a test: uncaught errors, unexpected dialogs, and console
// errors other than the 4xx answers a test provokes on purpose. Every e2e module watches
// its pages with it and fails a test that left any.
export function watchProblems(page, problems) {
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  page.on('dialog', (d) => {
    problems.push(`dialog: ${d.message()}`);
    d.dismiss();
  });
  page.on('console', (m) => {
    if (m.type() === 'error' && !/status of 4\d\d/.test(m.text()))
      problems.push(`console: ${m.text()}`);
  });
}
