import { describe, expect, it } from 'vitest';
import { renderMarkdown, sanitizeHtml } from './render';

function dom(html: string): HTMLElement {
  const host = document.createElement('div');
  host.innerHTML = html;
  return host;
}

function assertInert(host: HTMLElement): void {
  expect(host.querySelectorAll('script, iframe, object, embed, style')).toHaveLength(0);
  for (const element of host.querySelectorAll('*')) {
    for (const attribute of element.attributes) {
      expect(attribute.name.startsWith('on'), `${element.tagName} has ${attribute.name}`).toBe(false);
      expect(attribute.value.toLowerCase()).not.toContain('javascript:');
    }
  }
}

describe('renderMarkdown', () => {
  it('shows an <img onerror> from a model as text, not as an image', () => {
    const host = dom(renderMarkdown('Look: <img src=x onerror=alert(1)> here'));
    assertInert(host);
    expect(host.querySelector('img')).toBeNull();
    expect(host.textContent).toContain('<img src=x onerror=alert(1)>');
  });

  it('shows a <script> block as text and never runs it', () => {
    const host = dom(renderMarkdown('<script>alert(1)</script>\n\nafter'));
    assertInert(host);
    expect(host.textContent).toContain('<script>alert(1)</script>');
    expect(host.textContent).toContain('after');
  });

  it('drops javascript: links', () => {
    const host = dom(renderMarkdown('[click](javascript:alert(1)) and [ok](https://example.org)'));
    assertInert(host);
    const links = [...host.querySelectorAll('a')];
    expect(links.map((a) => a.getAttribute('href'))).not.toContain('javascript:alert(1)');
    const ok = links.find((a) => a.getAttribute('href') === 'https://example.org');
    expect(ok?.getAttribute('rel')).toContain('noopener');
  });

  it('keeps a script inside a code block as highlighted text with a copy button', () => {
    const host = dom(renderMarkdown('```html\n<script>alert(1)</script>\n```'));
    assertInert(host);
    expect(host.querySelector('pre code')?.textContent).toBe('<script>alert(1)</script>');
    expect(host.querySelector('button[data-copy-code]')?.getAttribute('aria-label')).toBe('Copy code');
  });

  it('highlights known languages', () => {
    const host = dom(renderMarkdown('```python\ndef f():\n    return 1\n```'));
    expect(host.querySelector('.hljs-keyword')?.textContent).toBe('def');
    expect(host.querySelector('.code-head span')?.textContent).toBe('python');
  });

  it('renders tables and math', () => {
    const host = dom(renderMarkdown('| a | b |\n|---|---|\n| 1 | 2 |\n\nInline $x^2$ and\n\n$$\\frac{1}{2}$$'));
    expect(host.querySelectorAll('table td')).toHaveLength(2);
    expect(host.querySelectorAll('.katex').length).toBeGreaterThanOrEqual(2);
    assertInert(host);
  });

  it('does not let math smuggle markup', () => {
    const host = dom(renderMarkdown('$\\href{javascript:alert(1)}{x}$ $<img src=x onerror=alert(1)>$'));
    assertInert(host);
  });
});

describe('sanitizeHtml', () => {
  it('strips event handlers and scripts from HTML', () => {
    const host = dom(sanitizeHtml('<img src=x onerror=alert(1)><script>alert(1)</script><svg onload=alert(1)><circle r="1"/></svg>'));
    assertInert(host);
    expect(host.querySelector('img')?.getAttribute('src')).toBe('x');
  });

  it('removes buttons and forms that could post anywhere', () => {
    const host = dom(sanitizeHtml('<form action="https://evil"><button>go</button></form>'));
    expect(host.querySelector('form, button')).toBeNull();
  });
});
