// Browses a run's artifacts (artifacts/list) and previews images and text files through
// the artifact proxy. Text is shown as escaped text; images in <img>.
import { useState } from 'preact/hooks';
import { artifactUrl, listArtifacts } from '../../api/client';
import type { FileInfo } from '../../api/types';
import { ErrorBox, useLoad } from '../../components/common';
import { formatBytes } from '../../format';

const IMAGE = /\.(png|jpe?g|gif|webp|bmp|svg)$/i;
const TEXT =
  /(\.(txt|log|json|ya?ml|csv|tsv|md|py|toml|ini|cfg|sh|html?|xml)|(^|\/)MLmodel|requirements\.txt)$/i;
const MAX_TEXT = 1024 * 1024;

export function ArtifactBrowser(props: { runId: string; artifactUri?: string }) {
  const [dir, setDir] = useState('');
  const [selected, setSelected] = useState<FileInfo | null>(null);
  const [files, error] = useLoad(() => listArtifacts(props.runId, dir), [props.runId, dir]);
  const up = dir.includes('/') ? dir.slice(0, dir.lastIndexOf('/')) : '';
  return (
    <div class="artifacts">
      <div class="artifact-list">
        <p class="mono muted">/{dir}</p>
        <ErrorBox error={error} />
        <ul aria-label="artifacts">
          {dir && (
            <li>
              <button type="button" class="link" onClick={() => setDir(up)}>
                ..
              </button>
            </li>
          )}
          {(files ?? []).map((f) => {
            const name = f.path.slice(f.path.lastIndexOf('/') + 1);
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
              </li>
            );
          })}
          {files && files.length === 0 && <li class="muted">No artifacts.</li>}
        </ul>
      </div>
      <div class="artifact-preview">
        {selected ? (
          <Preview file={selected} url={artifactUrl(props.artifactUri, selected.path)} />
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
  return (
    <div>
      <p>
        <strong>{file.path}</strong>{' '}
        <a href={url} download={name}>
          Download
        </a>
      </p>
      {IMAGE.test(file.path) ? (
        <img class="preview-image" src={url} alt={file.path} />
      ) : TEXT.test(file.path) && (file.file_size ?? 0) <= MAX_TEXT ? (
        <TextPreview url={url} />
      ) : (
        <p class="muted">No preview for this file type.</p>
      )}
    </div>
  );
}

function TextPreview(props: { url: string }) {
  const [text, error] = useLoad(async () => {
    const r = await fetch(props.url);
    if (!r.ok) throw new Error(`HTTP ${r.status}`);
    return r.text();
  }, [props.url]);
  return (
    <>
      <ErrorBox error={error} />
      {text !== undefined && <pre class="text-preview">{text}</pre>}
    </>
  );
}
