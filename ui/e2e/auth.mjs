// e2e tests of authentication (`--auth`), registered by run.mjs. They start their OWN
// ferroflow with `--auth` (FERROFLOW_ADMIN_PASSWORD bootstraps the admin, the default
// permission is NO_PERMISSIONS), separate from the no-auth server of the other modules,
// seed users, an experiment with a run and a model through the REST API (HTTP Basic as the
// admin), and drive their own browser context (its own cookies): the login flow, signing
// out, what a READ-only user sees, an admin creating a user, a grant and a token, and CSRF.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startFerroflow } from './net.mjs';
import { watchProblems } from './problems.mjs';

const ADMIN = { username: 'admin', password: 'e2e-admin-pw-1' };
const BOB = { username: 'bob', password: 'bob-pw-2' };

export function authTests({ test, bin, out, getBrowser }) {
  const data = mkdtempSync(join(tmpdir(), 'ferroflow-ui-e2e-auth-'));
  let server;
  let base;
  let context;
  let page;
  const seed = {};
  const problems = [];

  const basic = (u) => `Basic ${Buffer.from(`${u.username}:${u.password}`).toString('base64')}`;
  /** A REST call as `user` (HTTP Basic); returns [status, json]. */
  const rest = async (method, path, body, user = ADMIN, headers = {}) => {
    const r = await fetch(`${base}${path}`, {
      method,
      headers: {
        ...(user ? { Authorization: basic(user) } : {}),
        ...(body ? { 'Content-Type': 'application/json' } : {}),
        ...headers,
      },
      body: body ? JSON.stringify(body) : undefined,
    });
    const text = await r.text();
    return [r.status, text ? JSON.parse(text) : {}];
  };
  const ok = async (method, path, body) => {
    const [status, json] = await rest(method, path, body);
    assert.equal(status, 200, `${method} ${path}: ${JSON.stringify(json)}`);
    return json;
  };

  async function start() {
    ({ base, server } = await startFerroflow({
      bin,
      data,
      log: join(out, 'ferroflow-auth.log'),
      args: ['--auth', '--auth-default-permission', 'NO_PERMISSIONS'],
      env: { ...process.env, FERROFLOW_ADMIN_PASSWORD: ADMIN.password },
    }));
    // bob may read experiment A and model M; nothing else is his (the default is
    // NO_PERMISSIONS), and experiment B is the admin's only.
    await ok('POST', '/api/2.0/mlflow/users/create', BOB);
    seed.a = (
      await ok('POST', '/api/2.0/mlflow/experiments/create', { name: 'auth-a' })
    ).experiment_id;
    seed.b = (
      await ok('POST', '/api/2.0/mlflow/experiments/create', { name: 'auth-b' })
    ).experiment_id;
    const run = await ok('POST', '/api/2.0/mlflow/runs/create', {
      experiment_id: seed.a,
      run_name: 'auth-run',
      start_time: Date.now(),
    });
    seed.run = run.run.info.run_id;
    await ok('POST', '/api/2.0/mlflow/registered-models/create', { name: 'auth-model' });
    await ok('POST', '/api/2.0/mlflow/model-versions/create', {
      name: 'auth-model',
      source: `runs:/${seed.run}/model`,
      run_id: seed.run,
    });
    for (const [type, id] of [
      ['experiment', seed.a],
      ['registered_model', 'auth-model'],
    ])
      await ok('POST', '/api/3.0/mlflow/users/permissions/grant', {
        username: BOB.username,
        resource_type: type,
        resource_id: id,
        permission: 'READ',
      });
    context = await getBrowser().newContext({ viewport: { width: 1280, height: 900 } });
    page = await context.newPage();
    watchProblems(page, problems);
  }

  const shot = (name) => page.screenshot({ path: join(out, `${name}.png`), fullPage: true });
  const authTest = (name, fn) =>
    test(name, async () => {
      if (!server) await start();
      problems.length = 0;
      try {
        await fn();
      } catch (e) {
        await shot(`failure-auth-${name.replace(/\W+/g, '-')}`).catch(() => {});
        throw e;
      }
      assert.deepEqual(problems, [], 'no page errors, dialogs or console errors (auth page)');
    });
  const signIn = async (user) => {
    await page.getByLabel('Username').fill(user.username);
    await page.getByLabel('Password').fill(user.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
  };
  const openMenu = async () => {
    await page.getByLabel('user menu').click();
    await page.getByRole('menu').waitFor();
  };
  const signOut = async () => {
    await openMenu();
    await page.getByRole('menuitem', { name: 'Sign out' }).click();
    await page.waitForURL(/\/login$/);
  };

  authTest('auth: the login page, a wrong password, then back where the user was', async () => {
    // Anonymous: the UI goes to the login page, keeping where the user was.
    await page.goto(`${base}/experiments/${seed.a}?view=ALL`);
    await page.waitForURL(/\/login\?next=/);
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    assert.equal(await page.getByRole('navigation', { name: 'main' }).count(), 0);
    await signIn({ ...BOB, password: 'wrong' });
    const alert = page.getByRole('alert');
    await alert.getByText('Wrong username or password.').waitFor();
    assert.match(page.url(), /\/login\?next=/, 'still on the login page');
    assert.equal(await page.getByLabel('Password').inputValue(), '', 'the password is cleared');
    await shot('auth-login-error');
    await signIn(BOB);
    await page.waitForURL(`${base}/experiments/${seed.a}?view=ALL`);
    await page.getByRole('heading', { name: 'auth-a' }).waitFor();
    await page.getByText('1 runs loaded').waitFor();
    // Reloading keeps the session (the HttpOnly cookie), which scripts cannot read.
    await page.reload();
    await page.getByText('1 runs loaded').waitFor();
    assert.equal(await page.evaluate(() => document.cookie), '');
  });

  authTest('auth: a READ user sees no Users, and delete disabled on the experiment', async () => {
    await page.goto(`${base}/`);
    // Only what bob may read is listed.
    await page.getByRole('link', { name: 'auth-a', exact: true }).waitFor();
    assert.equal(await page.getByRole('link', { name: 'auth-b', exact: true }).count(), 0);
    const row = page.locator(`tr[data-experiment="${seed.a}"]`);
    await page.waitForFunction(
      (id) =>
        document.querySelector(`tr[data-experiment="${id}"] button[title^="You need"]`) !== null,
      seed.a,
    );
    assert.equal(await row.getByRole('button', { name: 'Delete' }).isDisabled(), true);
    assert.equal(await row.getByRole('button', { name: 'Rename' }).isDisabled(), true);
    await openMenu();
    await page.getByRole('menu').getByText('Signed in as bob').waitFor();
    await page.getByRole('menuitem', { name: 'Tokens' }).waitFor();
    assert.equal(await page.getByRole('menuitem', { name: 'Users' }).count(), 0, 'no Users');
    await shot('auth-user-menu');
    await page.keyboard.press('Escape');
    await page.getByRole('menu').waitFor({ state: 'hidden' });
    // The runs page: a ticked run cannot be deleted, and no Permissions panel.
    await page.goto(`${base}/experiments/${seed.a}`);
    await page.getByText('1 runs loaded').waitFor();
    await page
      .locator('[aria-label="runs"] [role=row][data-key]', { hasText: 'auth-run' })
      .getByLabel('select row')
      .check();
    const del = page.getByRole('button', { name: 'Delete selected (1)' });
    await page.waitForFunction(
      () => document.querySelector('button[title="You need MANAGE on this experiment"]') !== null,
    );
    assert.equal(await del.isDisabled(), true, 'delete is disabled');
    assert.equal(await del.getAttribute('title'), 'You need MANAGE on this experiment');
    assert.equal(await page.getByText('Permissions', { exact: true }).count(), 0);
    await shot('auth-read-only-runs');
    // The run page: tags and description read-only.
    await page.goto(`${base}/runs/${seed.run}`);
    await page.getByText('Read only: You need EDIT on this experiment.').waitFor();
    assert.equal(await page.getByRole('button', { name: 'Add tag' }).count(), 0);
    assert.equal(await page.getByRole('button', { name: 'Add description' }).count(), 0);
    // The model page: tags read-only, transitions and aliases disabled.
    await page.goto(`${base}/models/auth-model`);
    await page.locator('tr[data-version="1"]').waitFor();
    await page.getByText('Read only: You need EDIT on this model.').waitFor();
    assert.equal(
      await page
        .locator('tr[data-version="1"]')
        .getByRole('button', { name: 'Transition' })
        .isDisabled(),
      true,
    );
    assert.equal(await page.getByRole('button', { name: 'Set alias' }).isDisabled(), true);
    // The users page is the admin's (the server refuses it too).
    await page.goto(`${base}/admin/users`);
    await page.getByText('Only admins manage users.').waitFor();
    const [status] = await page.evaluate(async () => {
      const r = await fetch('/ajax-api/2.0/mlflow/users/list');
      return [r.status];
    });
    assert.equal(status, 403);
  });

  authTest('auth: sign out, then every page asks to sign in again', async () => {
    await page.goto(`${base}/models`);
    await page.getByRole('link', { name: 'auth-model' }).waitFor();
    await signOut();
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    const status = await page.evaluate(
      async () => (await fetch('/ajax-api/ferroflow/v1/session')).status,
    );
    assert.equal(status, 401, 'the session is gone on the server');
    await page.goto(`${base}/models/auth-model`);
    await page.waitForURL(/\/login\?next=%2Fmodels%2Fauth-model$/);
  });

  authTest('auth: CSRF, a write with the cookie but without the header is refused', async () => {
    await page.goto(`${base}/login`);
    await signIn(ADMIN);
    await page.waitForURL(`${base}/`);
    await page.getByRole('link', { name: 'auth-b', exact: true }).waitFor();
    const answers = await page.evaluate(async (runId) => {
      const body = JSON.stringify({ run_id: runId, key: 'csrf', value: 'x' });
      const post = (headers) =>
        fetch('/ajax-api/2.0/mlflow/runs/set-tag', {
          method: 'POST',
          credentials: 'same-origin',
          headers: { 'Content-Type': 'application/json', ...headers },
          body,
        }).then(async (r) => [r.status, await r.json()]);
      const session = await (await fetch('/ajax-api/ferroflow/v1/session')).json();
      return [
        await post({}),
        await post({ 'X-CSRF-Token': 'forged' }),
        await post({ 'X-CSRF-Token': session.csrf_token }),
      ];
    }, seed.run);
    assert.equal(answers[0][0], 403);
    assert.equal(answers[0][1].error_code, 'PERMISSION_DENIED');
    assert.match(answers[0][1].message, /CSRF/);
    assert.equal(answers[1][0], 403, 'a wrong token is refused');
    assert.equal(answers[2][0], 200, 'the session token is accepted');
    // The UI's own writes carry it: add a tag on the run page.
    await page.goto(`${base}/runs/${seed.run}`);
    await page.getByLabel('new tag key').fill('ui');
    await page.getByLabel('new tag value').fill('yes');
    await page.getByRole('button', { name: 'Add tag' }).click();
    await page
      .locator('[aria-label=tags] tr[data-tag=ui] .tag-value', { hasText: 'yes' })
      .waitFor();
  });

  authTest('auth: an admin creates a user, grants it a level, then deletes it', async () => {
    await page.goto(`${base}/`);
    await openMenu();
    await page.getByRole('menuitem', { name: 'Users' }).click();
    await page.waitForURL(`${base}/admin/users`);
    await page.locator('tr[data-user=bob]').waitFor();
    await page.getByLabel('new username').fill('carol');
    await page.getByLabel('new user password').fill('carol-pw-3');
    await page.getByRole('button', { name: 'Create user' }).click();
    await page.getByRole('status').getByText('User carol created.').waitFor();
    const carol = page.locator('tr[data-user=carol]');
    await carol.getByRole('button', { name: 'Make admin' }).click();
    await page.getByRole('status').getByText('carol is now an admin.').waitFor();
    await carol.getByRole('button', { name: 'Remove admin' }).click();
    await page.getByRole('status').getByText('carol is no longer an admin.').waitFor();
    await carol.getByRole('button', { name: 'Reset password' }).click();
    await page.getByLabel('password for carol', { exact: true }).fill('carol-pw-4');
    await page.getByRole('button', { name: 'Save password' }).click();
    await page.getByRole('status').getByText('Password of carol changed.').waitFor();
    const [status] = await rest('GET', '/api/2.0/mlflow/users/current', undefined, {
      username: 'carol',
      password: 'carol-pw-4',
    });
    assert.equal(status, 200, 'the new password works');
    await shot('auth-users');
    // Her grants: add EDIT on experiment B, change it to MANAGE, revoke it.
    await carol.getByRole('link', { name: 'carol' }).click();
    await page.getByRole('heading', { name: 'carol' }).waitFor();
    await page.getByText('No grants: the default permission applies.').waitFor();
    await page.getByLabel('resource', { exact: true }).fill(seed.b);
    await page.getByLabel('new grant permission').selectOption('EDIT');
    await page.getByRole('button', { name: 'Grant' }).click();
    await page
      .getByRole('status')
      .getByText(`carol now has EDIT on experiment ${seed.b}.`)
      .waitFor();
    const grant = page.locator(`tr[data-grant="experiment:${seed.b}"]`);
    await grant.getByLabel(`permission on experiment ${seed.b}`).selectOption('MANAGE');
    await page
      .getByRole('status')
      .getByText(`carol now has MANAGE on experiment ${seed.b}.`)
      .waitFor();
    const [, got] = await rest(
      'GET',
      `/api/3.0/mlflow/users/permissions/get?username=carol&resource_type=experiment&resource_id=${seed.b}`,
    );
    assert.equal(got.permission, 'MANAGE');
    await shot('auth-user-grants');
    await grant.getByRole('button', { name: `revoke experiment ${seed.b}` }).click();
    await page.getByText('No grants: the default permission applies.').waitFor();
    // Her tokens: an admin sees and revokes them.
    const [made] = await rest(
      'POST',
      '/api/ferroflow/v1/tokens',
      { name: 'carol-ci' },
      { username: 'carol', password: 'carol-pw-4' },
    );
    assert.equal(made, 200);
    await page.reload();
    await page.getByRole('button', { name: 'revoke token carol-ci' }).click();
    await page.getByRole('status').getByText('Token carol-ci revoked.').waitFor();
    await page.getByRole('table', { name: 'user tokens' }).waitFor({ state: 'detached' });
    // Deleting asks first; Cancel keeps her.
    await page.goto(`${base}/admin/users`);
    await carol.getByRole('button', { name: 'Delete' }).click();
    const confirm = page.getByRole('alertdialog', { name: 'confirm delete user' });
    await confirm.getByRole('button', { name: 'Cancel' }).click();
    assert.equal(await carol.count(), 1);
    await carol.getByRole('button', { name: 'Delete' }).click();
    await confirm.getByRole('button', { name: 'Delete carol' }).click();
    await page.getByRole('status').getByText('User carol deleted.').waitFor();
    await carol.waitFor({ state: 'detached' });
  });

  authTest('auth: the permissions panel of an experiment and a model', async () => {
    await page.goto(`${base}/experiments/${seed.b}`);
    await page.getByText('Permissions', { exact: true }).click();
    await page.getByLabel('grant username').fill('bob');
    await page.getByLabel('grant level').selectOption('EDIT');
    await page.getByRole('button', { name: 'Grant', exact: true }).click();
    await page.getByRole('status').getByText('bob now has EDIT on this experiment.').waitFor();
    // The admin sees who holds grants on it.
    const holders = page.getByRole('table', { name: 'grants on this resource' });
    await holders.locator('tr[data-holder=bob]', { hasText: 'EDIT' }).waitFor();
    await page.getByRole('button', { name: 'Check' }).click();
    await page.getByRole('status').getByText('bob has EDIT on this experiment.').waitFor();
    await page.getByRole('button', { name: 'Revoke' }).click();
    await page
      .getByRole('status')
      .getByText(/bob's grant on this experiment revoked/)
      .waitFor();
    await page.getByRole('button', { name: 'Check' }).click();
    await page
      .getByRole('status')
      .getByText('bob has NO_PERMISSIONS on this experiment.')
      .waitFor();
    await page.goto(`${base}/models/auth-model`);
    await page.getByText('Permissions', { exact: true }).click();
    await page.getByLabel('grant username').fill('bob');
    await page.getByRole('button', { name: 'Check' }).click();
    await page.getByRole('status').getByText('bob has READ on this model.').waitFor();
    await holders.locator('tr[data-holder=bob]', { hasText: 'READ' }).waitFor();
    await shot('auth-permissions-panel');
  });

  authTest('auth: a token, its secret shown once, used, then revoked', async () => {
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: base });
    await page.goto(`${base}/`);
    await openMenu();
    await page.getByRole('menuitem', { name: 'Tokens' }).click();
    await page.waitForURL(`${base}/tokens`);
    await page.getByText('No tokens.').waitFor();
    await page.getByLabel('token name').fill('ci');
    await page.getByLabel('expires in days').fill('0');
    assert.equal(await page.getByRole('button', { name: 'Create token' }).isDisabled(), true);
    await page.getByLabel('expires in days').fill('30');
    await page.getByRole('button', { name: 'Create token' }).click();
    const shown = page.getByRole('region', { name: 'new token' });
    await shown.getByText('it is shown only once').waitFor();
    const secret = await shown.locator('.secret-value').textContent();
    assert.ok(secret.length > 30, 'the secret is shown');
    await shown.getByRole('button', { name: 'Copy' }).click();
    await shown.getByRole('button', { name: 'Copied' }).waitFor();
    assert.equal(await page.evaluate(() => navigator.clipboard.readText()), secret);
    await page.locator('tr[data-token=ci]').waitFor();
    await shot('auth-token');
    // The token signs a script in.
    const bearer = { Authorization: `Bearer ${secret}` };
    const search = () =>
      rest('POST', '/api/2.0/mlflow/experiments/search', { max_results: 10 }, null, bearer);
    assert.equal((await search())[0], 200);
    // Shown once: gone after Done, and not on the page after a reload.
    await shown.getByRole('button', { name: 'Done' }).click();
    await page.reload();
    await page.locator('tr[data-token=ci]').waitFor();
    assert.equal((await page.content()).includes(secret), false, 'the secret is not shown again');
    await page.getByRole('button', { name: 'revoke token ci' }).click();
    await page.getByRole('status').getByText('Token ci revoked.').waitFor();
    await page.getByText('No tokens.').waitFor();
    assert.equal((await search())[0], 401, 'a revoked token is refused');
  });

  authTest('auth: a user changes their own password from the menu', async () => {
    await signOut();
    await signIn(BOB);
    await page.waitForURL(`${base}/`);
    await openMenu();
    await page.getByRole('menuitem', { name: 'Change password' }).click();
    await page.waitForURL(`${base}/account/password`);
    await page.getByLabel('New password', { exact: true }).fill('bob-pw-new');
    await page.getByLabel('New password again').fill('bob-pw-typo');
    await page.getByText('The two passwords differ.').waitFor();
    assert.equal(await page.getByRole('button', { name: 'Change password' }).isDisabled(), true);
    await page.getByLabel('New password again').fill('bob-pw-new');
    await page.getByRole('button', { name: 'Change password' }).click();
    await page.getByRole('status').getByText('Your password was changed.').waitFor();
    const current = (password) =>
      rest('GET', '/api/2.0/mlflow/users/current', undefined, { username: 'bob', password });
    assert.equal((await current('bob-pw-new'))[0], 200);
    assert.equal((await current(BOB.password))[0], 401);
    BOB.password = 'bob-pw-new';
  });

  authTest('auth: too many failed logins are refused, and the page says so', async () => {
    await signOut();
    for (let i = 0; i < 10; i++)
      await rest('POST', '/ajax-api/ferroflow/v1/login', { username: 'bob', password: 'no' }, null);
    await signIn(BOB);
    await page
      .getByRole('alert')
      .getByText(/^Too many failed attempts/)
      .waitFor();
    await shot('auth-rate-limited');
  });

  return async () => {
    await context?.close().catch(() => {});
    server?.kill('SIGTERM');
    rmSync(data, { recursive: true, force: true });
  };
}
