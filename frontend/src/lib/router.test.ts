import { describe, expect, it } from 'vitest';
import { matchPath } from './router.svelte';
import { t } from './i18n';

describe('matchPath', () => {
  it('matches static and parameter segments', () => {
    expect(matchPath('/runs', '/runs')).toEqual({});
    expect(matchPath('/runs', '/runs/')).toEqual({});
    expect(matchPath('/runs/:id', '/runs/01H%20X')).toEqual({ id: '01H X' });
    expect(matchPath('/runs/:id', '/runs')).toBeNull();
    expect(matchPath('/runs', '/runs/1')).toBeNull();
    expect(matchPath('/files/*', '/files/a/b')).toEqual({ '*': 'a/b' });
  });
});

describe('i18n', () => {
  it('fills placeholders and leaves unknown ones', () => {
    expect(t('users.approved', { name: 'Ada' })).toBe('Ada can now sign in.');
    expect(t('auth.passwordHint')).toBe('At least {n} characters.');
  });
});
