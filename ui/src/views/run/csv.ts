// CSV/TSV parsing for the artifact preview (RFC 4180: quoted fields may hold the
// delimiter, doubled quotes and newlines; CRLF or LF line ends), stopping after `maxRows`.

export interface Table {
  rows: string[][];
  /** More rows followed the last one returned. */
  truncated: boolean;
}

export function parseDelimited(text: string, delimiter = ',', maxRows = 500): Table {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  let i = 0;
  const n = text.length;
  const endRow = () => {
    row.push(field);
    field = '';
    rows.push(row);
    row = [];
  };
  while (i < n) {
    const c = text[i];
    if (quoted) {
      if (c === '"') {
        if (text[i + 1] === '"') {
          field += '"';
          i += 2;
          continue;
        }
        quoted = false;
        i++;
        continue;
      }
      field += c;
      i++;
      continue;
    }
    if (c === '"' && field === '') {
      quoted = true;
      i++;
    } else if (c === delimiter) {
      row.push(field);
      field = '';
      i++;
    } else if (c === '\n' || c === '\r') {
      if (rows.length === maxRows) return { rows, truncated: true };
      endRow();
      i += c === '\r' && text[i + 1] === '\n' ? 2 : 1;
      if (rows.length === maxRows) return { rows, truncated: hasContent(text, i) };
    } else {
      field += c;
      i++;
    }
  }
  if (field !== '' || row.length > 0 || quoted) {
    if (rows.length === maxRows) return { rows, truncated: true };
    endRow();
  }
  return { rows, truncated: false };
}

function hasContent(text: string, from: number): boolean {
  return /\S/.test(text.slice(from, from + 4096)) || text.length - from > 4096;
}

/** The delimiter for a file name: tab for .tsv/.tab, else comma. */
export function delimiterFor(path: string): string {
  return /\.(tsv|tab)$/i.test(path) ? '\t' : ',';
}
