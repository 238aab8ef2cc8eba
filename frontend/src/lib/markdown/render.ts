/**
 * Markdown → safe HTML, for chat answers and run outputs.
 *
 * Two layers: raw HTML inside the markdown is shown as text (a model that writes
 * `<script>` gets its words displayed, not run), and the whole result goes through
 * DOMPurify, so nothing that slips past the renderer can carry script either.
 */
import 'katex/dist/katex.min.css';
import DOMPurify from 'dompurify';
import { Marked, type Tokens } from 'marked';
import markedKatex from 'marked-katex-extension';
import { highlight } from './highlight';

export function escapeHtml(text: string): string {
  return text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

function codeBlock({ text, lang }: Tokens.Code): string {
  const language = (lang ?? '').split(/\s+/)[0] ?? '';
  const body = highlight(text, language) ?? escapeHtml(text);
  const label = escapeHtml(language || 'text');
  return (
    `<div class="code-block"><div class="code-head"><span>${label}</span>` +
    `<button type="button" class="copy-code" data-copy-code aria-label="Copy code">Copy</button>` +
    `</div><pre><code class="hljs language-${label}">${body}</code></pre></div>`
  );
}

const marked = new Marked({ gfm: true, breaks: false, async: false });
marked.use(markedKatex({ throwOnError: false, output: 'html', nonStandard: true }));
marked.use({
  renderer: {
    code: codeBlock,
    html: ({ text }: Tokens.HTML | Tokens.Tag) => `<span class="raw-html">${escapeHtml(text)}</span>`,
  },
});

const PURIFY_CONFIG = {
  USE_PROFILES: { html: true, svg: true },
  FORBID_TAGS: ['style', 'form', 'input', 'button', 'textarea', 'select', 'iframe'],
  FORBID_ATTR: ['srcset', 'formaction'],
  ADD_TAGS: [] as string[],
};

let hooked = false;
function purifier(): typeof DOMPurify {
  if (!hooked) {
    DOMPurify.addHook('afterSanitizeAttributes', (node) => {
      if (node instanceof Element && node.tagName === 'A' && node.getAttribute('href')) {
        node.setAttribute('target', '_blank');
        node.setAttribute('rel', 'noopener noreferrer nofollow');
      }
    });
    hooked = true;
  }
  return DOMPurify;
}

/** Sanitise an HTML string with Notewell's DOMPurify settings. */
export function sanitizeHtml(html: string): string {
  return purifier().sanitize(html, PURIFY_CONFIG) as unknown as string;
}

/** Sanitise renderer output, keeping only the copy buttons the renderer made itself. */
function sanitizeRendered(html: string): string {
  const clean = purifier().sanitize(html, {
    ...PURIFY_CONFIG,
    FORBID_TAGS: PURIFY_CONFIG.FORBID_TAGS.filter((tag) => tag !== 'button'),
    ADD_ATTR: ['data-copy-code'],
  }) as unknown as string;
  return clean;
}

/** Render markdown (with math and highlighted code) to sanitised HTML. */
export function renderMarkdown(source: string): string {
  const html = marked.parse(source, { async: false });
  return sanitizeRendered(html);
}
