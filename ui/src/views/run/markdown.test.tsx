import type { VNode } from 'preact';
import { describe, expect, it } from 'vitest';
import { renderMarkdown, safeUrl } from './markdown';

interface El {
  type: string;
  props: Record<string, unknown>;
}

/** Every element in a vnode tree (fragments flattened), and all its text. */
function flatten(node: unknown, els: El[] = [], text: string[] = []) {
  if (node === null || node === undefined || typeof node === 'boolean') return { els, text };
  if (typeof node === 'string' || typeof node === 'number') {
    text.push(String(node));
    return { els, text };
  }
  if (Array.isArray(node)) {
    for (const n of node) flatten(n, els, text);
    return { els, text };
  }
  const v = node as VNode<Record<string, unknown>>;
  if (typeof v.type === 'string') els.push({ type: v.type, props: v.props });
  flatten(v.props.children, els, text);
  return { els, text };
}

const md = (text: string) => flatten(renderMarkdown(text));
const types = (text: string) => md(text).els.map((e) => e.type);

describe('markdown renderer', () => {
  it('renders emphasis, headings, lists, code and tables as elements', () => {
    const t = types(
      '# T\n\n**bold** _em_ ~~del~~ `code`\n\n- a\n- b\n\n| x | y |\n|:-|-:|\n| 1 | 2 |',
    );
    for (const tag of ['h3', 'strong', 'em', 'del', 'code', 'ul', 'li', 'table', 'th', 'td'])
      expect(t).toContain(tag);
    const { els, text } = md('| x | y |\n|:-|-:|\n| 1 | 2 |');
    expect(text.join('')).toBe('xy12');
    expect(els.find((e) => e.type === 'td')?.props.class).toBe('md-left');
  });

  it('renders raw HTML as text, never as elements', () => {
    const src =
      '<script>alert(1)</script>\n\nhi <img src=x onerror=alert(2)> <b onclick="x()">b</b>\n\n<iframe src="javascript:alert(3)"></iframe>';
    const { els, text } = md(src);
    const tags = els.map((e) => e.type);
    for (const bad of ['script', 'img', 'b', 'iframe']) expect(tags).not.toContain(bad);
    const all = text.join('');
    expect(all).toContain('<script>alert(1)</script>');
    expect(all).toContain('<img src=x onerror=alert(2)>');
    expect(all).toContain('<iframe src="javascript:alert(3)">');
    for (const e of els)
      for (const k of Object.keys(e.props))
        expect(k.startsWith('on'), `${e.type}.${k}`).toBe(false);
  });

  it('drops javascript:, data: and other unsafe link and image URLs', () => {
    const src = [
      '[a](javascript:alert(1))',
      '[b](JaVaScRiPt:alert(1))',
      '[c](java\tscript:alert(1))',
      '<javascript:alert(1)>',
      '[d](data:text/html,<script>alert(1)</script>)',
      '[e](vbscript:x)',
      '[f][ref]',
      '![g](javascript:alert(1))',
      '![h](data:image/png;base64,AAAA)',
      '',
      '[ref]: javascript:alert(1)',
    ].join('\n\n');
    const { els, text } = md(src);
    expect(els.filter((e) => e.type === 'a' && e.props.href !== undefined)).toEqual([]);
    expect(els.filter((e) => e.type === 'img')).toEqual([]);
    const all = text.join('');
    for (const label of ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h']) expect(all).toContain(label);
  });

  it('keeps http(s), mailto and relative links', () => {
    const { els } = md(
      '[a](https://example.com/x?y=1) [b](http://e.org) [c](mailto:me@e.org) [d](../runs/1) [e](#top) ![i](plots/x.png)',
    );
    const hrefs = els.filter((e) => e.type === 'a').map((e) => e.props.href);
    expect(hrefs).toEqual([
      'https://example.com/x?y=1',
      'http://e.org',
      'mailto:me@e.org',
      '../runs/1',
      '#top',
    ]);
    expect(els.find((e) => e.type === 'a')?.props.rel).toBe('noopener noreferrer nofollow');
    expect(els.find((e) => e.type === 'img')?.props.src).toBe('plots/x.png');
    const remote = md('![chart](https://e.org/x.png)').els;
    expect(remote.map((e) => e.type)).toEqual(['div', 'p', 'a']);
    expect(remote[2].props.href).toBe('https://e.org/x.png');
  });

  it('safeUrl', () => {
    expect(safeUrl(' javascript:alert(1)')).toBeUndefined();
    expect(safeUrl('\u0001javascript:alert(1)')).toBeUndefined();
    expect(safeUrl('mailto:a@b')).toBe('mailto:a@b');
    expect(safeUrl('mailto:a@b', true)).toBeUndefined();
    expect(safeUrl('data:image/png;base64,AA', true)).toBeUndefined();
    expect(safeUrl('a/b:c')).toBe('a/b:c');
    expect(safeUrl('x:y')).toBeUndefined();
    expect(safeUrl(undefined)).toBeUndefined();
  });
});

describe('markdown raw HTML blocks', () => {
  it('each become a paragraph of text', () => {
    const { els, text } = md('<script>x()</script>\n\n<div onclick="y()">z</div>');
    expect(els.map((e) => e.type)).toEqual(['div', 'p', 'p']);
    expect(text).toEqual(['<script>x()</script>', '<div onclick="y()">z</div>']);
  });
});
