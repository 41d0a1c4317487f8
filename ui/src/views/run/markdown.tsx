// Markdown (CommonMark + GFM tables, strikethrough, task lists, autolinks) to Preact
// elements, safely: the text is parsed into a syntax tree (mdast-util-from-markdown) and
// each node becomes a Preact element whose text Preact escapes. There is no HTML string and
// no dangerouslySetInnerHTML: raw HTML in the source (`<script>`, `<img onerror=…>`) is an
// `html` node, rendered as its literal text. Link and image URLs pass `safeUrl` (http(s),
// mailto, or relative), so `javascript:` and `data:` links have no href; images from
// other hosts become links (no third-party loads).
//
// This module is loaded lazily (a dynamic import in Description.tsx): only the run page
// pays for the parser.
import type { Nodes, Parents, Root } from 'mdast';
import { fromMarkdown } from 'mdast-util-from-markdown';
import { gfmFromMarkdown } from 'mdast-util-gfm';
import { gfm } from 'micromark-extension-gfm';
import { type ComponentChildren, Fragment, type VNode } from 'preact';

const SCHEME = /^([a-z][a-z0-9+.-]*):/i;

/** `url` when it is http(s), mailto or relative (no scheme); otherwise `undefined`.
 * Browsers ignore ASCII whitespace and control characters inside a scheme (`java\tscript:`),
 * so those are removed before looking at it. `images` allows no mailto. */
export function safeUrl(url: string | null | undefined, images = false): string | undefined {
  if (url === null || url === undefined) return undefined;
  // biome-ignore lint/suspicious/noControlCharactersInRegex: stripping them is the point
  const squeezed = url.replace(/[\u0000-\u0020\u007f-\u009f]/g, '');
  const m = SCHEME.exec(squeezed);
  if (!m) {
    // No scheme. A colon before the first / ? # would still be read as one by some parsers.
    const head = squeezed.split(/[/?#]/, 1)[0];
    return head.includes(':') ? undefined : url;
  }
  const scheme = m[1].toLowerCase();
  if (scheme === 'http' || scheme === 'https') return url;
  if (scheme === 'mailto' && !images) return url;
  return undefined;
}

export function parseMarkdown(text: string): Root {
  return fromMarkdown(text, { extensions: [gfm()], mdastExtensions: [gfmFromMarkdown()] });
}

interface Definitions {
  [id: string]: { url: string; title?: string | null };
}

function collectDefinitions(node: Nodes, out: Definitions) {
  if (node.type === 'definition') out[node.identifier] ??= { url: node.url, title: node.title };
  if ('children' in node) for (const c of node.children) collectDefinitions(c, out);
}

/** The markdown `text` as Preact elements (inside a `<div class="markdown">`). */
export function renderMarkdown(text: string): VNode {
  const tree = parseMarkdown(text);
  const defs: Definitions = {};
  collectDefinitions(tree, defs);
  return <div class="markdown">{children(tree, defs)}</div>;
}

const BLOCK_PARENTS = new Set(['root', 'blockquote', 'listItem', 'footnoteDefinition']);

function children(node: Parents, defs: Definitions): ComponentChildren[] {
  const block = BLOCK_PARENTS.has(node.type);
  return node.children.map((c, i) =>
    // A raw HTML block is shown as its text in a paragraph of its own.
    block && c.type === 'html' ? (
      <p key={i} class="md-raw">
        {c.value}
      </p>
    ) : (
      render(c as Nodes, defs, i)
    ),
  );
}

function link(
  href: string | undefined,
  title: string | null | undefined,
  body: ComponentChildren,
  key: number,
) {
  if (!href)
    return (
      <span key={key} class="md-unsafe-link">
        {body}
      </span>
    );
  return (
    <a key={key} href={href} title={title ?? undefined} rel="noopener noreferrer nofollow">
      {body}
    </a>
  );
}

function image(
  src: string | undefined,
  alt: string | null | undefined,
  title: string | null | undefined,
  key: number,
) {
  // An unsafe image source renders as its alt text.
  if (!src) return <span key={key}>{alt ?? ''}</span>;
  // An absolute image URL would load from another host (a tracking pixel; the CSP
  // blocks it anyway): it becomes a link to the image instead.
  if (/^\s*https?:/i.test(src)) return link(src, title, `image: ${alt || src}`, key);
  return <img key={key} src={src} alt={alt ?? ''} title={title ?? undefined} loading="lazy" />;
}

function render(node: Nodes, defs: Definitions, key: number): ComponentChildren {
  switch (node.type) {
    case 'root':
      return <>{children(node, defs)}</>;
    case 'paragraph':
      return <p key={key}>{children(node, defs)}</p>;
    case 'heading': {
      // The page's own h1/h2 come first: a description's `#` is an h3.
      const Tag = `h${Math.min(6, node.depth + 2)}` as 'h3';
      return <Tag key={key}>{children(node, defs)}</Tag>;
    }
    case 'thematicBreak':
      return <hr key={key} />;
    case 'blockquote':
      return <blockquote key={key}>{children(node, defs)}</blockquote>;
    case 'list':
      return node.ordered ? (
        <ol key={key} start={node.start ?? undefined}>
          {children(node, defs)}
        </ol>
      ) : (
        <ul key={key}>{children(node, defs)}</ul>
      );
    case 'listItem':
      return (
        <li key={key}>
          {node.checked !== null && node.checked !== undefined && (
            <input type="checkbox" checked={node.checked} disabled aria-label="task" />
          )}
          {node.spread
            ? children(node, defs)
            : // A tight list's paragraphs render without <p>.
              node.children.map((c, i) =>
                c.type === 'paragraph' ? (
                  <Fragment key={i}>{children(c, defs)}</Fragment>
                ) : (
                  render(c, defs, i)
                ),
              )}
        </li>
      );
    case 'code':
      return (
        <pre key={key} class="md-code">
          <code>{node.value}</code>
        </pre>
      );
    case 'inlineCode':
      return <code key={key}>{node.value}</code>;
    case 'html':
      // Raw HTML is shown as the text it is, never parsed.
      return node.value;
    case 'text':
      return node.value;
    case 'emphasis':
      return <em key={key}>{children(node, defs)}</em>;
    case 'strong':
      return <strong key={key}>{children(node, defs)}</strong>;
    case 'delete':
      return <del key={key}>{children(node, defs)}</del>;
    case 'break':
      return <br key={key} />;
    case 'link':
      return link(safeUrl(node.url), node.title, children(node, defs), key);
    case 'linkReference': {
      const def = defs[node.identifier];
      if (!def) return <>{children(node, defs)}</>;
      return link(safeUrl(def.url), def.title, children(node, defs), key);
    }
    case 'image':
      return image(safeUrl(node.url, true), node.alt, node.title, key);
    case 'imageReference': {
      const def = defs[node.identifier];
      return image(def ? safeUrl(def.url, true) : undefined, node.alt, def?.title, key);
    }
    case 'definition':
      return null;
    case 'table': {
      const align = node.align ?? [];
      const [head, ...body] = node.children;
      const cells = (row: (typeof node.children)[number], Cell: 'th' | 'td') =>
        row.children.map((c, i) => (
          <Cell key={i} class={align[i] ? `md-${align[i]}` : undefined}>
            {children(c, defs)}
          </Cell>
        ));
      return (
        <table key={key} class="grid md-table">
          {head && (
            <thead>
              <tr>{cells(head, 'th')}</tr>
            </thead>
          )}
          <tbody>
            {body.map((r, i) => (
              <tr key={i}>{cells(r, 'td')}</tr>
            ))}
          </tbody>
        </table>
      );
    }
    case 'footnoteReference':
      return <sup key={key}>[{node.label ?? node.identifier}]</sup>;
    case 'footnoteDefinition':
      return (
        <div key={key} class="md-footnote">
          <sup>[{node.label ?? node.identifier}]</sup> {children(node, defs)}
        </div>
      );
    default:
      // Anything else (yaml front matter, unknown extensions): its text, if any.
      return 'value' in node && typeof node.value === 'string' ? node.value : null;
  }
}
