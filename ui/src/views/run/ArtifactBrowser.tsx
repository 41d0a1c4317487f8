// Browses a run's artifacts (artifacts/list) or a logged model's files, and previews them through the artifact proxy:
// images in <img>; JSON pretty-printed; CSV/TSV as a table (first MAX_ROWS rows); MLmodel
// as its flavors, signature and Python version; YAML and other text as text. All text is
// rendered as text (escaped by Preact). Every file has a download link. Nothing larger
// than the preview caps is fetched: the listing's file_size is checked first.
import type { ComponentChildren } from 'preact';
import { useState } from 'preact/hooks';
import { fetchArtifactText } from '../../api/client';
import type { FileInfo } from '../../api/types';
import { ErrorBox, useLoad } from '../../components/common';
import { formatBytes } from '../../format';
import { delimiterFor, parseDelimited } from './csv';
import { summariseMLmodel, yamlProblem } from './mlmodel';

const IMAGE = /\.(png|jpe?g|gif|webp|bmp|svg)$/i;
const TEXT =
  /(\.(txt|log|md|py|toml|ini|cfg|sh|html?|xml|r|sql|ipynb|jsonl|out|err)|(^|\/)(Dockerfile|MLproject|LICENSE))$/i;
/** Text previews fetch at most this much. */
export const MAX_TEXT = 2 * 1024 * 1024;
/** A CSV/TSV table shows at most this many rows. */
export const MAX_ROWS = 500;

export type PreviewKind = 'image' | 'json' | 'yaml' | 'csv' | 'mlmodel' | 'text' | 'none';

export function previewKind(path: string): PreviewKind {
  const name = path.slice(path.lastIndexOf('/') + 1);
  if (name === 'MLmodel') return 'mlmodel';
  if (IMAGE.test(name)) return 'image';
  if (/\.json$/i.test(name)) return 'json';
  if (/\.ya?ml$/i.test(name)) return 'yaml';
  if (/\.(csv|tsv|tab)$/i.test(name)) return 'csv';
  if (TEXT.test(name) || /(^|[-_.])requirements[^/]*\.txt$/i.test(name)) return 'text';
  return 'none';
}

export function ArtifactBrowser(props: {
  /** What is browsed (a run or model id): the listing reloads when it changes. */
  id: string;
  list: (dir: string) => Promise<FileInfo[]>;
  /** The download URL of a file; `undefined` when the files are not served by ferroflow. */
  urlOf: (path: string) => string | undefined;
  label?: string;
}) {
  const [dir, setDir] = useState('');
  const [selected, setSelected] = useState<FileInfo | null>(null);
  const [files, error] = useLoad(() => props.list(dir), [props.id, dir]);
  const up = dir.includes('/') ? dir.slice(0, dir.lastIndexOf('/')) : '';
  return (
    <div class="artifacts">
      <div class="artifact-list">
        <p class="mono muted">/{dir}</p>
        <ErrorBox error={error} />
        <ul aria-label={props.label ?? 'artifacts'}>
          {dir && (
            <li>
              <button type="button" class="link" onClick={() => setDir(up)}>
                ..
              </button>
            </li>
          )}
          {(files ?? []).map((f) => {
            const name = f.path.slice(f.path.lastIndexOf('/') + 1);
            const url = f.is_dir ? undefined : props.urlOf(f.path);
            return (
              <li key={f.path}>
                <button
                  type="button"
                  class={`link${selected?.path === f.path ? ' active' : ''}`}
                  onClick={() => (f.is_dir ? setDir(f.path) : setSelected(f))}
                >
                  {f.is_dir ? `${name}/` : name}
                </button>
                {!f.is_dir && <span class="muted"> {formatBytes(f.file_size)}</span>}
                {url && (
                  <a
                    class="download"
                    href={url}
                    download={name}
                    aria-label={`download ${name}`}
                    title="Download"
                  >
                    ↓
                  </a>
                )}
              </li>
            );
          })}
          {files && files.length === 0 && <li class="muted">No artifacts.</li>}
        </ul>
      </div>
      <div class="artifact-preview">
        {selected ? (
          <Preview key={selected.path} file={selected} url={props.urlOf(selected.path)} />
        ) : (
          <p class="muted">Select a file to preview it.</p>
        )}
      </div>
    </div>
  );
}

function Preview(props: { file: FileInfo; url?: string }) {
  const { file, url } = props;
  if (!url)
    return <p class="muted">This run's artifacts are not served through ferroflow's proxy.</p>;
  const name = file.path.slice(file.path.lastIndexOf('/') + 1);
  const kind = previewKind(file.path);
  const size = file.file_size ?? 0;
  let body: ComponentChildren;
  if (kind === 'image') body = <img class="preview-image" src={url} alt={file.path} />;
  else if (kind === 'none') body = <p class="muted">No preview for this file type.</p>;
  else if (size > MAX_TEXT)
    body = (
      <p class="muted">
        Too large to preview ({formatBytes(size)}; previews load at most {formatBytes(MAX_TEXT)}).
        Download it instead.
      </p>
    );
  else body = <TextPreview url={url} path={file.path} kind={kind} />;
  return (
    <div>
      <p class="preview-head">
        <strong>{file.path}</strong> <span class="muted">{formatBytes(file.file_size)}</span>{' '}
        <a href={url} download={name}>
          Download
        </a>
      </p>
      {body}
    </div>
  );
}

function TextPreview(props: { url: string; path: string; kind: PreviewKind }) {
  const [text, error] = useLoad(() => fetchArtifactText(props.url, MAX_TEXT), [props.url]);
  if (error) return <ErrorBox error={error} />;
  if (text === undefined) return <p class="muted">Loading…</p>;
  switch (props.kind) {
    case 'json':
      return <JsonPreview text={text} />;
    case 'csv':
      return <CsvPreview text={text} delimiter={delimiterFor(props.path)} />;
    case 'mlmodel':
      return <MLmodelPreview text={text} />;
    case 'yaml': {
      const problem = yamlProblem(text);
      return (
        <>
          {problem && <p class="muted">Not valid YAML ({problem}); shown as text.</p>}
          <pre class="text-preview">{text}</pre>
        </>
      );
    }
    default:
      return <pre class="text-preview">{text}</pre>;
  }
}

/** Pretty-printed JSON; JSON Lines and invalid JSON are shown as they are. */
export function prettyJson(text: string): { text: string; valid: boolean } {
  try {
    return { text: JSON.stringify(JSON.parse(text), null, 2), valid: true };
  } catch {
    return { text, valid: false };
  }
}

function JsonPreview(props: { text: string }) {
  const { text, valid } = prettyJson(props.text);
  return (
    <>
      {!valid && <p class="muted">Not valid JSON; shown as text.</p>}
      <pre class="text-preview json-preview">{text}</pre>
    </>
  );
}

function CsvPreview(props: { text: string; delimiter: string }) {
  const { rows, truncated } = parseDelimited(props.text, props.delimiter, MAX_ROWS + 1);
  const [head, ...body] = rows;
  if (!head) return <p class="muted">Empty file.</p>;
  const width = Math.max(...rows.map((r) => r.length));
  const pad = (r: string[]) => [...r, ...Array(width - r.length).fill('')];
  return (
    <div class="table-preview">
      <p class="muted">
        {truncated
          ? `The first ${body.length} rows (the preview stops at ${MAX_ROWS}; download the file for the rest).`
          : `${body.length} rows, ${width} columns.`}
      </p>
      <table class="grid csv-preview" aria-label="table preview">
        <thead>
          <tr>
            {pad(head).map((c, i) => (
              <th key={i} scope="col">
                {c}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {body.map((r, i) => (
            <tr key={i}>
              {pad(r).map((c, j) => (
                <td key={j}>{c}</td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function MLmodelPreview(props: { text: string }) {
  const s = summariseMLmodel(props.text);
  return (
    <>
      {s ? (
        <section class="mlmodel" aria-label="model summary">
          <table class="kv" aria-label="model">
            <tbody>
              <tr>
                <th scope="row">Python</th>
                <td>{s.pythonVersion ?? <span class="muted">not recorded</span>}</td>
              </tr>
              <tr>
                <th scope="row">MLflow</th>
                <td>{s.mlflowVersion ?? <span class="muted">not recorded</span>}</td>
              </tr>
              {s.modelId && (
                <tr>
                  <th scope="row">Model ID</th>
                  <td class="mono">{s.modelId}</td>
                </tr>
              )}
              {s.created && (
                <tr>
                  <th scope="row">Created</th>
                  <td>{s.created}</td>
                </tr>
              )}
            </tbody>
          </table>
          <h3>Flavors</h3>
          <ul class="flavors">
            {s.flavors.map((f) => (
              <li key={f.name}>
                <strong>{f.name}</strong>{' '}
                <span class="muted">
                  {f.details
                    .filter(([k]) => /version|loader_module|serialization_format/.test(k))
                    .map(([k, v]) => `${k}: ${v}`)
                    .join(', ')}
                </span>
              </li>
            ))}
          </ul>
          <h3>Signature</h3>
          {s.signature ? (
            (['inputs', 'outputs', 'params'] as const).map((part) => {
              const cols = s.signature?.[part];
              if (!cols) return null;
              return (
                <div key={part}>
                  <p class="muted">{part}</p>
                  <table class="grid" aria-label={`signature ${part}`}>
                    <tbody>
                      {cols.map((c, i) => (
                        <tr key={i}>
                          <td class="mono">{c.name ?? `[${i}]`}</td>
                          <td>{c.type}</td>
                          <td class="muted">
                            {c.required === false ? 'optional' : c.required ? 'required' : ''}
                          </td>
                        </tr>
                      ))}
                    </tbody>
                  </table>
                </div>
              );
            })
          ) : (
            <p class="muted">No signature.</p>
          )}
        </section>
      ) : (
        <p class="muted">Could not read this MLmodel file as YAML.</p>
      )}
      <details>
        <summary>MLmodel as text</summary>
        <pre class="text-preview">{props.text}</pre>
      </details>
    </>
  );
}
