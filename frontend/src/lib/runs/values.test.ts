import { describe, expect, it } from 'vitest';
import { asText, classify, formatBytes, isLarge, looksLikeMarkdown, tableColumns } from './values';

describe('values', () => {
  it('classifies what a step produced', () => {
    expect(classify(null)).toBe('empty');
    expect(classify('')).toBe('empty');
    expect(classify(3)).toBe('scalar');
    expect(classify('plain words')).toBe('text');
    expect(classify('# Title\n\nbody')).toBe('markdown');
    expect(classify([{ a: 1, b: 'x' }, { a: 2, c: null }])).toBe('table');
    expect(classify([{ nested: { x: 1 } }])).toBe('json');
    expect(classify({ $blob: '01X', bytes: 900_000 })).toBe('blob');
  });

  it('spots markdown', () => {
    expect(looksLikeMarkdown('a **bold** move')).toBe(true);
    expect(looksLikeMarkdown('| a | b |\n|---|---|\n| 1 | 2 |')).toBe(true);
    expect(looksLikeMarkdown('just a sentence.')).toBe(false);
  });

  it('finds table columns in order of appearance', () => {
    expect(tableColumns([{ a: 1 }, { b: 2, a: 3 }])).toEqual(['a', 'b']);
    expect(tableColumns([])).toBeNull();
    expect(tableColumns([1, 2])).toBeNull();
  });

  it('collapses large text', () => {
    expect(isLarge('x\n'.repeat(30))).toBe(true);
    expect(isLarge('short')).toBe(false);
    expect(asText({ a: 1 })).toBe('{\n  "a": 1\n}');
    expect(formatBytes(2048)).toBe('2.0 KiB');
  });
});
