import { describe, expect, it, vi } from 'vitest';
import { formatCombo, matches, parseCombo, shortcuts } from './shortcuts.svelte';

const key = (init: KeyboardEventInit) => new KeyboardEvent('keydown', { bubbles: true, cancelable: true, ...init });

describe('shortcuts', () => {
  it('parses and matches combos', () => {
    expect(parseCombo('mod+shift+o')).toEqual({ key: 'o', mod: true, shift: true, alt: false });
    expect(matches('mod+shift+o', key({ key: 'O', ctrlKey: true, shiftKey: true }), false)).toBe(true);
    expect(matches('mod+shift+o', key({ key: 'O', metaKey: true, shiftKey: true }), true)).toBe(true);
    expect(matches('mod+shift+o', key({ key: 'o', ctrlKey: true }), false)).toBe(false);
    expect(matches('?', key({ key: '?', shiftKey: true }), false)).toBe(true);
  });

  it('formats combos for each platform', () => {
    expect(formatCombo('mod+shift+o', false)).toBe('Ctrl+Shift+O');
    expect(formatCombo('mod+shift+o', true)).toBe('⌘⇧O');
    expect(formatCombo('escape', false)).toBe('Escape');
  });

  it('dispatches to the latest registration and skips plain keys while typing', () => {
    const first = vi.fn();
    const second = vi.fn();
    const offFirst = shortcuts.register({ combo: '?', description: 'shortcuts.help', handler: first });
    const offSecond = shortcuts.register({ combo: '?', description: 'shortcuts.help', handler: second });
    shortcuts.handle(key({ key: '?' }));
    expect(second).toHaveBeenCalledTimes(1);
    expect(first).not.toHaveBeenCalled();

    const input = document.createElement('input');
    document.body.append(input);
    const typed = key({ key: '?' });
    input.dispatchEvent(typed);
    shortcuts.handle(typed);
    expect(second).toHaveBeenCalledTimes(1);
    input.remove();

    offSecond();
    shortcuts.handle(key({ key: '?' }));
    expect(first).toHaveBeenCalledTimes(1);
    offFirst();
    expect(shortcuts.list).toHaveLength(0);
  });
});
