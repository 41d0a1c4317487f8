// One registered model: versions with stages, aliases, tags and sources; transition,
// set-alias and remove-alias actions; the model's tags editable.
import { useState } from 'preact/hooks';
import {
  deleteAlias,
  deleteModelTag,
  getRegisteredModel,
  searchModelVersions,
  setAlias,
  setModelTag,
  transitionStage,
} from '../../api/client';
import type { ModelVersion } from '../../api/types';
import { type ModelActions, modelActions } from '../../auth/permissions';
import { authMode, useMyPermission } from '../../auth/session';
import { ErrorBox, useAction, useLoad } from '../../components/common';
import { PermissionsPanel } from '../../components/PermissionsPanel';
import { TagsEditor } from '../../components/TagsEditor';
import { formatTime } from '../../format';
import { Link } from '../../router';

const STAGES = ['None', 'Staging', 'Production', 'Archived'];

export function ModelView(props: { name: string }) {
  const [model, modelError, reloadModel] = useLoad(
    () => getRegisteredModel(props.name),
    [props.name],
  );
  const [versions, versionsError, reloadVersions] = useLoad(
    () => searchModelVersions(props.name),
    [props.name],
  );
  const [alias, setAliasName] = useState('');
  const [aliasVersion, setAliasVersion] = useState('');
  const can = modelActions(useMyPermission({ name: props.name }));

  const {
    act,
    error: actionError,
    notice: message,
  } = useAction(() => {
    reloadModel();
    reloadVersions();
  });
  const sorted = [...(versions ?? [])].sort((a, b) => Number(b.version) - Number(a.version));
  const aliasesOf = (v: ModelVersion) =>
    (model?.aliases ?? []).filter((a) => a.version === v.version).map((a) => a.alias);

  return (
    <section>
      <nav class="crumbs">
        <Link href="/models">Models</Link> / <span>{props.name}</span>
      </nav>
      <h1>{props.name}</h1>
      <ErrorBox error={modelError ?? versionsError ?? actionError} />
      {message && (
        <p class="notice" role="status">
          {message}
        </p>
      )}
      {authMode.value === 'on' && can.manage.allowed && (
        <PermissionsPanel type="registered_model" id={props.name} />
      )}
      {model?.description && <pre class="description">{model.description}</pre>}
      <h2>Tags</h2>
      {model && (
        <TagsEditor
          label="model tags"
          tags={model.tags ?? []}
          onSet={(key, value) => setModelTag(props.name, key, value)}
          onDelete={(key) => deleteModelTag(props.name, key)}
          onChange={reloadModel}
          readOnly={can.update.allowed ? undefined : can.update.reason}
        />
      )}
      <h2>Versions</h2>
      <table class="grid" aria-label="versions">
        <thead>
          <tr>
            <th>Version</th>
            <th>Stage</th>
            <th>Aliases</th>
            <th>Source</th>
            <th>Tags</th>
            <th>Created</th>
            <th>Transition</th>
          </tr>
        </thead>
        <tbody>
          {sorted.map((v) => (
            <VersionRow
              key={v.version}
              v={v}
              aliases={aliasesOf(v)}
              can={can}
              onRemoveAlias={(a) => act(() => deleteAlias(props.name, a), `Alias @${a} removed.`)}
              onTransition={(stage) =>
                act(
                  () => transitionStage(props.name, v.version, stage),
                  `Version ${v.version} moved to ${stage}.`,
                )
              }
            />
          ))}
        </tbody>
      </table>
      <h2>Set alias</h2>
      <form
        class="toolbar"
        onSubmit={(e) => {
          e.preventDefault();
          const a = alias.trim();
          const version = aliasVersion || sorted[0]?.version;
          if (!a || !version) return;
          act(
            () => setAlias(props.name, a, version),
            `Alias @${a} now points to version ${version}.`,
          );
        }}
      >
        <input
          aria-label="alias"
          placeholder="alias, e.g. champion"
          value={alias}
          onInput={(e) => setAliasName(e.currentTarget.value)}
        />
        <select
          aria-label="alias version"
          value={aliasVersion}
          onChange={(e) => setAliasVersion(e.currentTarget.value)}
        >
          {sorted.map((v) => (
            <option key={v.version} value={v.version}>
              version {v.version}
            </option>
          ))}
        </select>
        <button type="submit" disabled={!can.update.allowed} title={can.update.reason}>
          Set alias
        </button>
      </form>
    </section>
  );
}

function VersionRow(props: {
  v: ModelVersion;
  aliases: string[];
  can: ModelActions;
  onRemoveAlias: (alias: string) => void;
  onTransition: (stage: string) => void;
}) {
  const { v } = props;
  const current = v.current_stage ?? 'None';
  const [stage, setStage] = useState(current === 'None' ? 'Staging' : 'None');
  return (
    <tr data-version={v.version}>
      <td>{v.version}</td>
      <td class="stage">{current}</td>
      <td>
        <span class="aliases">{props.aliases.map((a) => `@${a}`).join(' ')}</span>
        {props.can.delete.allowed &&
          props.aliases.map((a) => (
            <button
              key={a}
              type="button"
              class="link danger"
              aria-label={`remove alias ${a}`}
              title={`Remove @${a}`}
              onClick={() => props.onRemoveAlias(a)}
            >
              ×
            </button>
          ))}
      </td>
      <td>
        {v.run_id && (
          <Link href={`/runs/${encodeURIComponent(v.run_id)}`}>run {v.run_id.slice(0, 12)}</Link>
        )}
        {v.model_id && <div class="muted small">logged model {v.model_id}</div>}
        {v.source && (
          <div class="mono small" title={v.source}>
            {v.source}
          </div>
        )}
      </td>
      <td class="small">
        {(v.tags ?? []).map((t) => (
          <div key={t.key}>
            {t.key}={t.value}
          </div>
        ))}
      </td>
      <td>{formatTime(v.creation_timestamp)}</td>
      <td>
        <select
          aria-label={`stage for version ${v.version}`}
          value={stage}
          onChange={(e) => setStage(e.currentTarget.value)}
        >
          {STAGES.filter((s) => s !== current).map((s) => (
            <option key={s} value={s}>
              {s}
            </option>
          ))}
        </select>{' '}
        <button
          type="button"
          disabled={!props.can.update.allowed}
          title={props.can.update.reason}
          onClick={() => props.onTransition(stage)}
        >
          Transition
        </button>
      </td>
    </tr>
  );
}
