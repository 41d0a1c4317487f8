// A virtualised table: only the rows in view (plus overscan) are in the DOM, so 10,000
// runs scroll smoothly. Row virtualisation by @tanstack/virtual-core.
// Keyboard: rows are one Tab stop (a roving tabindex); ArrowUp/ArrowDown (Home/End) move
// between rows, Space toggles the focused row's selection, Enter opens it (`onOpen`).
import {
  elementScroll,
  observeElementOffset,
  observeElementRect,
  Virtualizer,
} from '@tanstack/virtual-core';
import type { ComponentChildren } from 'preact';
import { useLayoutEffect, useReducer, useRef, useState } from 'preact/hooks';

export interface Column<T> {
  id: string;
  header: string;
  width: number;
  render: (row: T) => ComponentChildren;
  sortable?: boolean;
  title?: (row: T) => string | undefined;
}

export interface VirtualTableProps<T> {
  columns: Column<T>[];
  rows: T[];
  rowKey: (row: T) => string;
  rowHeight?: number;
  sort?: { key: string; desc: boolean } | null;
  onSort?: (key: string) => void;
  /** Called when the last rendered row is near the end (to load the next page). */
  onEndReached?: () => void;
  selected?: Set<string>;
  onToggle?: (key: string) => void;
  /** The header's checkbox: ticks every loaded row, or unticks them all when all are. */
  onToggleAll?: (select: boolean) => void;
  /** Enter on a focused row. */
  onOpen?: (row: T) => void;
  label: string;
}

export function VirtualTable<T>(props: VirtualTableProps<T>) {
  const rowHeight = props.rowHeight ?? 32;
  const scrollRef = useRef<HTMLDivElement>(null);
  const [, rerender] = useReducer((n: number) => n + 1, 0);
  const options = {
    count: props.rows.length,
    getScrollElement: () => scrollRef.current,
    estimateSize: () => rowHeight,
    overscan: 12,
    scrollToFn: elementScroll,
    observeElementRect,
    observeElementOffset,
    onChange: () => rerender(undefined),
  };
  const [virtualizer] = useState(() => new Virtualizer<HTMLDivElement, Element>(options));
  virtualizer.setOptions({ ...virtualizer.options, ...options });
  useLayoutEffect(() => virtualizer._didMount(), []);
  useLayoutEffect(() => virtualizer._willUpdate());

  const items = virtualizer.getVirtualItems();
  const last = items[items.length - 1];
  const { onEndReached, rows } = props;
  useLayoutEffect(() => {
    if (last && last.index >= rows.length - 50) onEndReached?.();
  }, [last?.index, rows.length]);

  const selectable = !!props.onToggle;
  const selectedLoaded = props.selected
    ? props.rows.reduce((n, r) => n + (props.selected?.has(props.rowKey(r)) ? 1 : 0), 0)
    : 0;
  const allSelected = props.rows.length > 0 && selectedLoaded === props.rows.length;
  const someSelected = selectedLoaded > 0 && !allSelected;
  const allRef = useRef<HTMLInputElement>(null);
  // The row that holds the Tab stop, and one to focus once it is rendered (after a jump).
  const [focusIndex, setFocusIndex] = useState(0);
  const pendingFocus = useRef<number | null>(null);
  const current = Math.max(0, Math.min(focusIndex, props.rows.length - 1));
  const rowElement = (i: number) =>
    scrollRef.current?.querySelector<HTMLElement>(`[role=row][data-index="${i}"]`);
  useLayoutEffect(() => {
    const i = pendingFocus.current;
    const el = i === null ? undefined : rowElement(i);
    if (el) {
      pendingFocus.current = null;
      el.focus();
    }
  });
  const moveTo = (i: number) => {
    const j = Math.max(0, Math.min(i, props.rows.length - 1));
    setFocusIndex(j);
    const el = rowElement(j);
    if (el) el.focus();
    else {
      pendingFocus.current = j;
      virtualizer.scrollToIndex(j);
    }
  };
  const onRowKey = (e: KeyboardEvent, index: number, row: T, key: string) => {
    const onRow = e.target === e.currentTarget;
    if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
      e.preventDefault();
      moveTo(index + (e.key === 'ArrowDown' ? 1 : -1));
    } else if ((e.key === 'Home' || e.key === 'End') && onRow) {
      e.preventDefault();
      moveTo(e.key === 'Home' ? 0 : props.rows.length - 1);
    } else if (e.key === ' ' && onRow && props.onToggle) {
      e.preventDefault();
      props.onToggle(key);
    } else if (e.key === 'Enter' && onRow && props.onOpen) {
      e.preventDefault();
      props.onOpen(row);
    }
  };
  useLayoutEffect(() => {
    if (allRef.current) allRef.current.indeterminate = someSelected;
  });
  const template = `${selectable ? '36px ' : ''}${props.columns.map((c) => `${c.width}px`).join(' ')}`;
  const totalWidth = props.columns.reduce((s, c) => s + c.width, selectable ? 36 : 0);

  return (
    <div class="vtable" role="table" aria-label={props.label} aria-rowcount={props.rows.length}>
      <div class="vtable-scroll" ref={scrollRef}>
        <div
          class="vtable-head"
          role="row"
          style={{ gridTemplateColumns: template, width: totalWidth }}
        >
          {selectable && (
            <div role="columnheader" class="cell">
              {props.onToggleAll && (
                <input
                  type="checkbox"
                  ref={allRef}
                  aria-label="select all loaded rows"
                  title="Select all loaded rows"
                  checked={allSelected}
                  disabled={props.rows.length === 0}
                  onChange={() => props.onToggleAll?.(!allSelected)}
                />
              )}
            </div>
          )}
          {props.columns.map((c) => {
            const active = props.sort?.key === c.id;
            const aria = active ? (props.sort?.desc ? 'descending' : 'ascending') : 'none';
            return (
              <div role="columnheader" class="cell" aria-sort={aria} key={c.id} title={c.header}>
                {c.sortable && props.onSort ? (
                  <button type="button" class="sort" onClick={() => props.onSort?.(c.id)}>
                    {c.header}
                    {active ? (props.sort?.desc ? ' ▼' : ' ▲') : ''}
                  </button>
                ) : (
                  c.header
                )}
              </div>
            );
          })}
        </div>
        <div
          style={{ height: virtualizer.getTotalSize(), width: totalWidth, position: 'relative' }}
        >
          {items.map((item) => {
            const row = props.rows[item.index];
            const key = props.rowKey(row);
            const isSelected = props.selected?.has(key) ?? false;
            return (
              <div
                role="row"
                class={`vtable-row${isSelected ? ' selected' : ''}`}
                key={key}
                data-key={key}
                data-index={item.index}
                tabIndex={item.index === current ? 0 : -1}
                onKeyDown={(e) => onRowKey(e, item.index, row, key)}
                onFocus={(e) => e.target === e.currentTarget && setFocusIndex(item.index)}
                aria-selected={selectable ? isSelected : undefined}
                style={{
                  gridTemplateColumns: template,
                  transform: `translateY(${item.start}px)`,
                  height: rowHeight,
                }}
              >
                {selectable && (
                  <div role="cell" class="cell">
                    <input
                      type="checkbox"
                      aria-label="select row"
                      checked={isSelected}
                      onChange={() => props.onToggle?.(key)}
                    />
                  </div>
                )}
                {props.columns.map((c) => (
                  <div role="cell" class="cell" key={c.id} data-col={c.id} title={c.title?.(row)}>
                    {c.render(row)}
                  </div>
                ))}
              </div>
            );
          })}
        </div>
      </div>
    </div>
  );
}
