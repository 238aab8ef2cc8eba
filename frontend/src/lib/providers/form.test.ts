import { describe, expect, it } from 'vitest';
import type { Connection } from '../api/providers';
import { createBody, emptyForm, formOf, parseModelList, parseOptions, updateBody } from './form';
import { chatModels, filterModels } from './models';

const stored: Connection = {
  id: 'c1',
  name: 'work',
  type: 'openai',
  base_url: 'http://127.0.0.1:9999/v1',
  has_api_key: true,
  prefix: 'work/',
  models: ['a', 'b'],
  enabled: true,
  options: { retries: 2 },
  created_at: '2025-01-01T00:00:00Z',
  updated_at: '2025-01-01T00:00:00Z',
};

describe('connection form', () => {
  it('reads allow-lists from lines or commas, without blanks or repeats', () => {
    expect(parseModelList(' a, b\n\nc ,a ')).toEqual(['a', 'b', 'c']);
    expect(parseModelList('')).toEqual([]);
  });

  it('types option values and rejects lines without =', () => {
    expect(parseOptions('x=1\ny = true\nz=two words\n')).toEqual({ x: 1, y: true, z: 'two words' });
    expect(() => parseOptions('nonsense')).toThrow(/line 1/);
  });

  it('sends the key on create only when one was typed', () => {
    const form = { ...emptyForm('openai'), name: ' local ', baseUrl: 'http://x/v1' };
    expect(createBody(form)).toEqual({
      name: 'local',
      type: 'openai',
      base_url: 'http://x/v1',
      prefix: '',
      models: [],
      enabled: true,
      options: {},
    });
    expect(createBody({ ...form, apiKey: 'sk-1' }).api_key).toBe('sk-1');
  });

  it('never fills the key field from the server', () => {
    const form = formOf(stored);
    expect(form.apiKey).toBe('');
    expect(form.models).toBe('a\nb');
    expect(form.options).toBe('retries=2');
  });

  it('sends only what changed, keeping the stored key unless replaced or cleared', () => {
    const form = formOf(stored);
    expect(updateBody(form, stored)).toEqual({});
    expect(updateBody({ ...form, enabled: false, models: 'a' }, stored)).toEqual({
      enabled: false,
      models: ['a'],
    });
    expect(updateBody({ ...form, apiKey: 'new' }, stored)).toEqual({ api_key: 'new' });
    expect(updateBody({ ...form, clearKey: true }, stored)).toEqual({ api_key: null });
  });
});

describe('model list helpers', () => {
  const models = [
    { id: 'local/smol', name: 'Smol', capabilities: ['chat'], context_length: 2048, connection: 'local', provider: 'local', owned_by: null },
    { id: 'work/embed', name: 'embed', capabilities: ['embeddings'], context_length: null, connection: 'work', provider: 'openai', owned_by: null },
  ];

  it('filters by every word over id, name, connection and capabilities', () => {
    expect(filterModels(models, 'work').map((m) => m.id)).toEqual(['work/embed']);
    expect(filterModels(models, 'chat local').map((m) => m.id)).toEqual(['local/smol']);
    expect(filterModels(models, '  ')).toHaveLength(2);
  });

  it('offers only chat models to a chat', () => {
    expect(chatModels(models).map((m) => m.id)).toEqual(['local/smol']);
  });
});
