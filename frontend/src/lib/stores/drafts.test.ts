import { describe, expect, it } from 'vitest';
import { clearDraft, draftKeys, loadDraft, saveDraft } from './drafts';

describe('drafts', () => {
  it('keeps unsent text until it is cleared', () => {
    saveDraft('chat:new', 'half a thought');
    expect(loadDraft('chat:new')).toBe('half a thought');
    expect(draftKeys()).toContain('chat:new');
    saveDraft('chat:new', '');
    expect(loadDraft('chat:new')).toBeNull();
    saveDraft('x', 'y');
    clearDraft('x');
    expect(loadDraft('x')).toBeNull();
  });
});
