import { describe, expect, it } from 'vitest';
import { delimiterFor, parseDelimited } from './csv';

describe('CSV parsing', () => {
  it('splits rows and fields', () => {
    expect(parseDelimited('a,b,c\n1,2,3\n')).toEqual({
      rows: [
        ['a', 'b', 'c'],
        ['1', '2', '3'],
      ],
      truncated: false,
    });
    expect(parseDelimited('a,b\r\n1,2').rows).toEqual([
      ['a', 'b'],
      ['1', '2'],
    ]);
    expect(parseDelimited('a,,\n').rows).toEqual([['a', '', '']]);
  });

  it('handles quotes, commas and newlines in quoted fields', () => {
    const text = 'name,note\n"Smith, J.","said ""hi""\nthen left"\n"",x\n';
    expect(parseDelimited(text).rows).toEqual([
      ['name', 'note'],
      ['Smith, J.', 'said "hi"\nthen left'],
      ['', 'x'],
    ]);
    // A CRLF inside quotes is kept; an unterminated quote runs to the end.
    expect(parseDelimited('"a\r\nb",c\r\n"open').rows).toEqual([['a\r\nb', 'c'], ['open']]);
  });

  it('parses TSV', () => {
    expect(delimiterFor('x/data.tsv')).toBe('\t');
    expect(delimiterFor('data.csv')).toBe(',');
    expect(parseDelimited('a\tb,c\n1\t2', '\t').rows).toEqual([
      ['a', 'b,c'],
      ['1', '2'],
    ]);
  });

  it('caps the rows and says so', () => {
    const text = Array.from({ length: 10 }, (_, i) => `${i},x`).join('\n');
    const t = parseDelimited(text, ',', 3);
    expect(t.rows).toEqual([
      ['0', 'x'],
      ['1', 'x'],
      ['2', 'x'],
    ]);
    expect(t.truncated).toBe(true);
    expect(parseDelimited('a\nb\nc\n', ',', 3).truncated).toBe(false);
    expect(parseDelimited('a\nb\nc', ',', 3).truncated).toBe(false);
  });
});
