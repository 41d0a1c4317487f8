import type { ComponentChildren } from 'preact';
import { useEffect, useState } from 'preact/hooks';

export function ErrorBox(props: { error: unknown }) {
  if (!props.error) return null;
  const message = props.error instanceof Error ? props.error.message : String(props.error);
  return (
    <div class="error" role="alert">
      {message}
    </div>
  );
}

export function KeyValueTable(props: {
  label: string;
  rows: { key: string; value: ComponentChildren }[];
  empty?: string;
}) {
  if (props.rows.length === 0) return <p class="muted">{props.empty ?? 'None'}</p>;
  return (
    <table class="kv" aria-label={props.label}>
      <tbody>
        {props.rows.map((r) => (
          <tr key={r.key}>
            <th scope="row">{r.key}</th>
            <td>{r.value}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** Loads `fn` whenever `deps` change; returns [value, error, reload]. */
export function useLoad<T>(
  fn: () => Promise<T>,
  deps: unknown[],
): [T | undefined, unknown, () => void] {
  const [value, setValue] = useState<T | undefined>(undefined);
  const [error, setError] = useState<unknown>(null);
  const [tick, setTick] = useState(0);
  useEffect(() => {
    let live = true;
    setError(null);
    fn().then(
      (v) => live && setValue(v),
      (e) => live && setError(e),
    );
    return () => {
      live = false;
    };
  }, [...deps, tick]);
  return [value, error, () => setTick((t) => t + 1)];
}

/**
 * Runs one user action at a time: clears the last error and notice, runs `f`, then shows
 * `done` and calls `afterwards` (a reload), or keeps the error. Resolves to whether it
 * succeeded.
 */
export function useAction(afterwards: () => void) {
  const [error, setError] = useState<unknown>(null);
  const [notice, setNotice] = useState('');
  const act = async (f: () => Promise<unknown>, done: string) => {
    setError(null);
    setNotice('');
    try {
      await f();
      setNotice(done);
      afterwards();
      return true;
    } catch (e) {
      setError(e);
      return false;
    }
  };
  return { act, error, setError, notice, setNotice };
}

export function StatusBadge(props: { status: string }) {
  return <span class={`status status-${props.status.toLowerCase()}`}>{props.status}</span>;
}

/** A labelled `<select>` of keys (metric or param names), each shown as itself. */
export function KeySelect(props: {
  /** The visible label before the list. */
  caption: string;
  /** Its accessible name. */
  label: string;
  keys: string[];
  value: string | undefined;
  onChange: (key: string) => void;
}) {
  return (
    <label>
      {props.caption}{' '}
      <select
        aria-label={props.label}
        value={props.value ?? ''}
        onChange={(e) => props.onChange(e.currentTarget.value)}
      >
        {props.keys.map((k) => (
          <option key={k} value={k}>
            {k}
          </option>
        ))}
      </select>
    </label>
  );
}
