/**
 * Unsent input survives a reload or an expired session: text fields that matter
 * (a chat message, a profile edit) keep their value in sessionStorage until sent.
 */

const PREFIX = 'notewell.draft.';

function storage(): Storage | null {
  try {
    return globalThis.sessionStorage ?? null;
  } catch {
    return null;
  }
}

export function loadDraft(key: string): string | null {
  return storage()?.getItem(PREFIX + key) ?? null;
}

export function saveDraft(key: string, value: string): void {
  const store = storage();
  if (!store) return;
  if (value) store.setItem(PREFIX + key, value);
  else store.removeItem(PREFIX + key);
}

export function clearDraft(key: string): void {
  storage()?.removeItem(PREFIX + key);
}

/** Every draft key that holds text (used to warn before signing out). */
export function draftKeys(): string[] {
  const store = storage();
  if (!store) return [];
  const keys: string[] = [];
  for (let i = 0; i < store.length; i++) {
    const key = store.key(i);
    if (key?.startsWith(PREFIX)) keys.push(key.slice(PREFIX.length));
  }
  return keys;
}
