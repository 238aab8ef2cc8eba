/** How a step's input or output value is shown: text, markdown, a table or JSON. */
import type { BlobRef } from '../api/runs';

export type ValueKind = 'empty' | 'blob' | 'text' | 'markdown' | 'table' | 'json' | 'scalar';

const MARKDOWN =
  /(^|\n)(#{1,6} |[-*+] |\d+\. |> |```)|\*\*[^*\n]+\*\*|\[[^\]\n]+\]\([^)\n]+\)|(^|\n)\|.*\|\s*\n\|?\s*:?-{3,}|\$\$[^$]+\$\$/;

export function looksLikeMarkdown(text: string): boolean {
  return MARKDOWN.test(text);
}

export function isBlobRef(value: unknown): value is BlobRef {
  if (!value || typeof value !== 'object' || Array.isArray(value)) return false;
  const keys = Object.keys(value);
  return keys.length === 2 && keys.includes('$blob') && keys.includes('bytes');
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return !!value && typeof value === 'object' && !Array.isArray(value);
}

/** Columns of a list of flat records (each value a scalar); null when it is not one. */
export function tableColumns(value: unknown, maxColumns = 12): string[] | null {
  if (!Array.isArray(value) || value.length === 0 || !value.every(isRecord)) return null;
  const columns: string[] = [];
  for (const row of value) {
    for (const [key, cell] of Object.entries(row)) {
      if (cell !== null && typeof cell === 'object') return null;
      if (!columns.includes(key)) columns.push(key);
    }
  }
  return columns.length > 0 && columns.length <= maxColumns ? columns : null;
}

export function classify(value: unknown): ValueKind {
  if (value === null || value === undefined || value === '') return 'empty';
  if (isBlobRef(value)) return 'blob';
  if (typeof value === 'string') return looksLikeMarkdown(value) ? 'markdown' : 'text';
  if (typeof value !== 'object') return 'scalar';
  if (tableColumns(value)) return 'table';
  return 'json';
}

/** The text a value is shown as when it is not a table: itself, or indented JSON. */
export function asText(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value === undefined) return '';
  return JSON.stringify(value, null, 2) ?? String(value);
}

export function lineCount(text: string): number {
  return text ? text.split('\n').length : 0;
}

/** Whether a value is big enough to show collapsed at first. */
export function isLarge(text: string, maxLines = 24, maxChars = 4000): boolean {
  return lineCount(text) > maxLines || text.length > maxChars;
}

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}
