// Completion of keys in the runs filter box (pure: no DOM). The word under the cursor is
// matched against `params.<key>`, `metrics.<key>`, `tags.<key>` and `attributes.<name>`;
// accepting a candidate replaces the word. Keys with anything but letters, digits and `_`
// are quoted with backticks, as MLflow's search language wants.

/** MLflow's run attributes that a filter can name. */
export const RUN_ATTRIBUTES = [
  'run_id',
  'run_name',
  'status',
  'user_id',
  'start_time',
  'end_time',
  'artifact_uri',
  'lifecycle_stage',
];

export interface CompletionKeys {
  params: string[];
  metrics: string[];
  tags: string[];
}

/** The word being completed: `text.slice(start, end)`, `typed` is the part before the cursor. */
export interface Token {
  start: number;
  end: number;
  typed: string;
}

export function quoteKey(key: string): string {
  return /^[A-Za-z0-9_]+$/.test(key) ? key : `\`${key.replace(/`/g, '')}\``;
}

const DELIMITER = /[\s(),=<>!]/;

/** The word under the cursor, or null where no key belongs: inside a string literal, at
 * nothing typed yet, or where a value is expected (after `=`, `<`, `LIKE`, `IN`, …). */
export function tokenAt(text: string, cursor: number): Token | null {
  let start = 0;
  let quote = '';
  let backtick = false;
  for (let i = 0; i < cursor; i++) {
    const ch = text[i];
    if (quote) {
      if (ch === '\\') i++;
      else if (ch === quote) quote = '';
    } else if (backtick) {
      if (ch === '`') backtick = false;
    } else if (ch === "'" || ch === '"') {
      quote = ch;
      start = i + 1;
    } else if (ch === '`') {
      backtick = true;
    } else if (DELIMITER.test(ch)) {
      start = i + 1;
    }
  }
  if (quote || cursor <= start) return null;
  let end = cursor;
  while (end < text.length) {
    const ch = text[end];
    if (backtick) {
      if (ch === '`') backtick = false;
    } else if (ch === '`') backtick = true;
    else if (DELIMITER.test(ch) || ch === "'" || ch === '"') break;
    end++;
  }
  const before = text.slice(0, start).trimEnd();
  if (/[=<>]$/.test(before) || /(^|[\s)])(NOT\s+)?(I?LIKE|RLIKE|IN)$/i.test(before)) return null;
  return { start, end, typed: text.slice(start, cursor) };
}

/** The completions of `typed`, best first: those whose whole name starts with it, then
 * those whose key starts with it, then those whose key contains it. */
export function candidates(keys: CompletionKeys, typed: string, limit = 50): string[] {
  const word = typed.replace(/`/g, '').toLowerCase();
  if (!word) return [];
  const ranked: [number, number, string][] = [];
  const groups: [string, string[]][] = [
    ['params', keys.params],
    ['metrics', keys.metrics],
    ['tags', keys.tags],
    ['attributes', RUN_ATTRIBUTES],
  ];
  let order = 0;
  for (const [kind, list] of groups) {
    for (const key of [...new Set(list)].sort()) {
      const name = `${kind}.${quoteKey(key)}`;
      const plain = `${kind}.${key}`.toLowerCase();
      const k = key.toLowerCase();
      const rank = plain.startsWith(word) ? 0 : k.startsWith(word) ? 1 : k.includes(word) ? 2 : -1;
      if (rank >= 0 && name !== typed) ranked.push([rank, order, name]);
      order++;
    }
  }
  ranked.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  return ranked.slice(0, limit).map((r) => r[2]);
}

/** `text` with the token replaced by `candidate` and a space after; the cursor after it. */
export function acceptCompletion(
  text: string,
  token: Token,
  candidate: string,
): { text: string; cursor: number } {
  const before = text.slice(0, token.start);
  const after = text.slice(token.end);
  const next = before + candidate + (after.startsWith(' ') ? '' : ' ') + after;
  return { text: next, cursor: before.length + candidate.length + 1 };
}
