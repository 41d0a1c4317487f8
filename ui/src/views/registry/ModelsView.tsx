// Registered models: list and search, by name or with a filter of MLflow's search
// language (`tags.team = 'vision'`, `name LIKE 'cls-%'`).
import { useState } from 'preact/hooks';
import { nameOrFilter, searchRegisteredModels } from '../../api/client';
import { ErrorBox, useLoad } from '../../components/common';
import { formatTime } from '../../format';
import { Link, navigate } from '../../router';

export function ModelsView(props: { query: URLSearchParams }) {
  const q = props.query.get('q') ?? '';
  const [text, setText] = useState(q);
  const filter = nameOrFilter(q);
  const [models, error] = useLoad(() => searchRegisteredModels(filter), [filter]);
  return (
    <section>
      <h1>Registered models</h1>
      <form
        class="toolbar"
        onSubmit={(e) => {
          e.preventDefault();
          navigate(text ? `/models?q=${encodeURIComponent(text)}` : '/models', { replace: true });
        }}
      >
        <input
          type="search"
          aria-label="search models"
          placeholder="Search by name, or a filter: tags.team = 'vision'"
          value={text}
          onInput={(e) => setText(e.currentTarget.value)}
        />
        <button type="submit">Search</button>
      </form>
      <ErrorBox error={error} />
      <table class="grid" aria-label="models">
        <thead>
          <tr>
            <th>Name</th>
            <th>Latest versions</th>
            <th>Aliases</th>
            <th>Last update</th>
          </tr>
        </thead>
        <tbody>
          {(models ?? []).map((m) => (
            <tr key={m.name}>
              <td>
                <Link href={`/models/${encodeURIComponent(m.name)}`}>{m.name}</Link>
              </td>
              <td>
                {(m.latest_versions ?? [])
                  .map((v) => `v${v.version} (${v.current_stage ?? 'None'})`)
                  .join(', ')}
              </td>
              <td>{(m.aliases ?? []).map((a) => `@${a.alias} → v${a.version}`).join(', ')}</td>
              <td>{formatTime(m.last_updated_timestamp)}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {models && models.length === 0 && <p class="muted">No registered models.</p>}
    </section>
  );
}
