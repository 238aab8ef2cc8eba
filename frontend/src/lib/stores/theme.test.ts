import { describe, expect, it } from 'vitest';
import { THEME_KEY, theme } from './theme.svelte';

describe('theme', () => {
  it('remembers the choice and applies the dark class', () => {
    theme.set('dark');
    expect(localStorage.getItem(THEME_KEY)).toBe('dark');
    expect(document.documentElement.classList.contains('dark')).toBe(true);
    theme.set('light');
    expect(document.documentElement.classList.contains('dark')).toBe(false);
  });

  it('cycles light → dark → system', () => {
    theme.set('light');
    theme.cycle();
    expect(theme.choice).toBe('dark');
    theme.cycle();
    expect(theme.choice).toBe('system');
    theme.cycle();
    expect(theme.choice).toBe('light');
  });
});
