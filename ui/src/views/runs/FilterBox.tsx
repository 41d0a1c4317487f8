// The runs filter's input with completion of keys (logic in complete.ts): a combobox whose
// listbox offers the loaded runs' params, metrics, tags and the run attributes matching the
// word under the cursor. ArrowUp/ArrowDown move, Enter or Tab accept, Escape closes; Enter
// with the list closed submits the form.
import { useLayoutEffect, useRef, useState } from 'preact/hooks';
import { acceptCompletion, type CompletionKeys, candidates, tokenAt } from './complete';

const LIST_ID = 'filter-completions';
const optionId = (i: number) => `filter-completion-${i}`;

export function FilterBox(props: {
  value: string;
  onChange: (value: string) => void;
  keys: CompletionKeys;
  placeholder?: string;
}) {
  const input = useRef<HTMLInputElement>(null);
  // The cursor when the user last typed; null closes the list (Escape, blur, accept).
  const [cursor, setCursor] = useState<number | null>(null);
  const [active, setActive] = useState(0);
  const placeCursor = useRef<number | null>(null);
  const token = cursor === null ? null : tokenAt(props.value, cursor);
  const options = token ? candidates(props.keys, token.typed) : [];
  const open = options.length > 0;
  const current = Math.min(active, options.length - 1);

  useLayoutEffect(() => {
    const at = placeCursor.current;
    if (at !== null && input.current) {
      placeCursor.current = null;
      input.current.focus();
      input.current.setSelectionRange(at, at);
    }
  });

  const accept = (candidate: string) => {
    if (!token) return;
    const r = acceptCompletion(props.value, token, candidate);
    placeCursor.current = r.cursor;
    setCursor(null);
    props.onChange(r.text);
  };

  const onKeyDown = (e: KeyboardEvent) => {
    if (!open || e.isComposing) return;
    if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
      e.preventDefault();
      const step = e.key === 'ArrowDown' ? 1 : -1;
      setActive((current + step + options.length) % options.length);
    } else if (e.key === 'Enter' || (e.key === 'Tab' && !e.shiftKey)) {
      e.preventDefault();
      accept(options[current]);
    } else if (e.key === 'Escape') {
      e.preventDefault();
      setCursor(null);
    }
  };

  return (
    <div class="completer">
      <input
        ref={input}
        class="mono"
        role="combobox"
        aria-label="filter runs"
        aria-autocomplete="list"
        aria-expanded={open}
        aria-controls={open ? LIST_ID : undefined}
        aria-activedescendant={open ? optionId(current) : undefined}
        autoComplete="off"
        spellcheck={false}
        placeholder={props.placeholder}
        value={props.value}
        onInput={(e) => {
          setCursor(e.currentTarget.selectionStart);
          setActive(0);
          props.onChange(e.currentTarget.value);
        }}
        onKeyDown={onKeyDown}
        onClick={() => setCursor(null)}
        onBlur={() => setCursor(null)}
      />
      {open && (
        <div class="completions" id={LIST_ID} role="listbox" aria-label="filter completions">
          {options.map((o, i) => (
            <div
              key={o}
              id={optionId(i)}
              role="option"
              tabIndex={-1}
              class="mono"
              aria-selected={i === current}
              // mousedown, not click: the input keeps its focus (no blur closing the list).
              onMouseDown={(e) => {
                e.preventDefault();
                accept(o);
              }}
            >
              {o}
            </div>
          ))}
        </div>
      )}
    </div>
  );
}
