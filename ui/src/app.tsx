import { LOGIN_PATH } from './auth/redirect';
import { authMode, currentUser, sessionError } from './auth/session';
import { ErrorBox, useLoad } from './components/common';
import { currentUrl, Link, match } from './router';
import { LoginView } from './views/auth/LoginView';
import { UserMenu } from './views/auth/UserMenu';
import { ChartView } from './views/charts/ChartView';
import { CompareView } from './views/compare/CompareView';
import { ExperimentsView } from './views/experiments/ExperimentsView';
import { ModelsView } from './views/registry/ModelsView';
import { ModelView } from './views/registry/ModelView';
import { RunsView } from './views/runs/RunsView';
import { decodeExperimentIds } from './views/runs/state';

// The run page is its own chunk, loaded on first visit: it carries the markdown and YAML
// parsers, which no other page needs.
const loadRunView = () => import('./views/run/RunView');

function LazyRunView(props: { runId: string }) {
  const [mod, error] = useLoad(loadRunView, []);
  if (error) return <ErrorBox error={error} />;
  if (!mod) return <p class="muted">Loading…</p>;
  return <mod.RunView runId={props.runId} />;
}

// The account and admin pages (users, grants, tokens) are another chunk.
const loadAuthPages = () => import('./views/auth/pages');

function AuthPage(props: { path: string }) {
  const [mod, error] = useLoad(loadAuthPages, []);
  if (error) return <ErrorBox error={error} />;
  if (!mod) return <p class="muted">Loading…</p>;
  if (props.path === '/tokens') return <mod.TokensView />;
  if (props.path === '/account/password') return <mod.PasswordView />;
  if (props.path === '/admin/users') return <mod.UsersView />;
  const user = match('/admin/users/:username', props.path);
  return user ? <mod.UserView username={user.username} /> : null;
}

const AUTH_PAGES = ['/tokens', '/account/password', '/admin/users'];

function Page() {
  const url = currentUrl.value;
  const path = url.pathname;
  const query = url.searchParams;
  const mode = authMode.value;
  if (sessionError.value) return <ErrorBox error={sessionError.value} />;
  if (mode === 'loading') return <p class="muted">Loading…</p>;
  if (mode === 'on') {
    // Signed out, only the login page shows (a 401 has already sent the user there).
    if (path === LOGIN_PATH || !currentUser.value) return <LoginView query={query} />;
    if (AUTH_PAGES.includes(path) || match('/admin/users/:username', path))
      return <AuthPage path={path} />;
  }
  if (path === '/' || path === '/experiments') return <ExperimentsView query={query} />;
  if (path === '/models') return <ModelsView query={query} />;
  const exp = match('/experiments/:id', path);
  if (exp) return <RunsView experimentIds={[exp.id]} search={url.search} />;
  if (path === '/runs' || path === '/runs/') {
    const ids = decodeExperimentIds(query.get('exp'));
    if (ids.length) return <RunsView experimentIds={ids} search={url.search} multi />;
  }
  const chart = match('/experiments/:id/chart', path);
  if (chart) return <ChartView experimentId={chart.id} query={query} />;
  const compare = match('/experiments/:id/compare', path);
  if (compare) return <CompareView experimentId={compare.id} query={query} />;
  const run = match('/runs/:id', path);
  if (run) return <LazyRunView runId={run.id} />;
  const model = match('/models/:name', path);
  if (model) return <ModelView name={model.name} />;
  return (
    <section>
      <h1>Not found</h1>
      <p>
        No page at <code>{path}</code>. <Link href="/">Go to experiments</Link>.
      </p>
    </section>
  );
}

export function App() {
  const path = currentUrl.value.pathname;
  const section = path.startsWith('/models') ? 'models' : 'experiments';
  return (
    <>
      <header class="top">
        <Link href="/" class="brand">
          ferroflow
        </Link>
        {(authMode.value !== 'on' || currentUser.value) && (
          <nav aria-label="main">
            <Link href="/" aria-current={section === 'experiments' ? 'page' : undefined}>
              Experiments
            </Link>
            <Link href="/models" aria-current={section === 'models' ? 'page' : undefined}>
              Models
            </Link>
          </nav>
        )}
        {authMode.value === 'on' && <UserMenu />}
      </header>
      <main>
        <Page />
      </main>
    </>
  );
}
