/**
 * Keyboard shortcuts: components register a combo and a handler; one keydown
 * listener dispatches. Combos are written `mod+shift+o` (mod = ⌘ on macOS, Ctrl
 * elsewhere), `?`, `escape`.
 */
import { untrack } from 'svelte';
import type { MessageKey } from '../i18n';

export interface Shortcut {
  combo: string;
  description: MessageKey;
  handler: (event: KeyboardEvent) => void;
  /** Fire even while the focus is in a text field (default: only with a modifier). */
  inInputs?: boolean;
}

interface Combo {
  key: string;
  mod: boolean;
  shift: boolean;
  alt: boolean;
}

export function parseCombo(combo: string): Combo {
  const parts = combo.toLowerCase().split('+');
  const key = parts.pop() ?? '';
  return {
    key,
    mod: parts.includes('mod') || parts.includes('ctrl') || parts.includes('meta'),
    shift: parts.includes('shift'),
    alt: parts.includes('alt'),
  };
}

export function isMac(): boolean {
  return typeof navigator !== 'undefined' && /Mac|iPhone|iPad/.test(navigator.platform ?? '');
}

export function matches(combo: string, event: KeyboardEvent, mac: boolean = isMac()): boolean {
  const want = parseCombo(combo);
  const mod = mac ? event.metaKey : event.ctrlKey;
  if (want.mod !== mod || want.alt !== event.altKey) return false;
  const key = event.key.toLowerCase();
  // printable symbols such as `?` already include shift in the key itself
  const symbol = want.key.length === 1 && !/[a-z0-9]/.test(want.key);
  if (!symbol && want.shift !== event.shiftKey) return false;
  return key === want.key;
}

/** `mod+shift+o` → `Ctrl+Shift+O` (or `⌘⇧O` on macOS). */
export function formatCombo(combo: string, mac: boolean = isMac()): string {
  const { key, mod, shift, alt } = parseCombo(combo);
  const name = key.length === 1 ? key.toUpperCase() : key[0]?.toUpperCase() + key.slice(1);
  if (mac) return `${mod ? '⌘' : ''}${alt ? '⌥' : ''}${shift ? '⇧' : ''}${name}`;
  return [mod && 'Ctrl', alt && 'Alt', shift && 'Shift', name].filter(Boolean).join('+');
}

function inTextField(target: EventTarget | null): boolean {
  if (!(target instanceof HTMLElement)) return false;
  return target.isContentEditable || ['INPUT', 'TEXTAREA', 'SELECT'].includes(target.tagName);
}

class Shortcuts {
  list = $state.raw<Shortcut[]>([]);
  helpOpen = $state(false);

  /**
   * Add a shortcut; returns a function that removes it. Components call this in an
   * `$effect` and return its result, so it goes away on unmount; the list is read
   * untracked, so registering never makes that effect depend on the list itself.
   */
  register(shortcut: Shortcut): () => void {
    this.list = [...untrack(() => this.list), shortcut];
    return () => {
      this.list = untrack(() => this.list).filter((item) => item !== shortcut);
    };
  }

  /** The keydown handler installed once on the window. Latest registration wins. */
  handle(event: KeyboardEvent): void {
    if (event.isComposing) return;
    const typing = inTextField(event.target);
    for (const shortcut of [...this.list].reverse()) {
      if (!matches(shortcut.combo, event)) continue;
      const modified = parseCombo(shortcut.combo).mod;
      if (typing && !shortcut.inInputs && !modified) continue;
      event.preventDefault();
      shortcut.handler(event);
      return;
    }
  }
}

export const shortcuts = new Shortcuts();
