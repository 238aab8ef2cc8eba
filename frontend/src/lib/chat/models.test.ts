import { describe, expect, it } from 'vitest';
import { labelOf, optionsOf, refOf } from './models.svelte';

const models = [
  { id: 'local/smol', name: 'Smol', capabilities: ['chat'], context_length: 2048, connection: 'local', provider: 'local', owned_by: null },
  { id: 'local/minilm', name: 'MiniLM', capabilities: ['embeddings'], context_length: 256, connection: 'local', provider: 'local', owned_by: null },
];
const presets = [{ id: 'p1', name: 'Pirate', base_model: 'local/smol', system_prompt: 'Arr', params: {} }];

describe('model choices', () => {
  it('offers chat models and presets, not embedding models', () => {
    expect(optionsOf(models, presets)).toEqual([
      { ref: 'local/smol', label: 'Smol', group: 'model' },
      { ref: 'preset:p1', label: 'Pirate', group: 'preset' },
    ]);
  });

  it("reads a chat's model: its first model, else its preset, else the default", () => {
    expect(refOf({ models: ['a', 'b'], preset_id: 'p1' })).toBe('a');
    expect(refOf({ models: [], preset_id: 'p1' })).toBe('preset:p1');
    expect(refOf({ models: [], preset_id: null })).toBe('');
  });

  it('names a model by its label, or by its id when it is no longer offered', () => {
    const options = optionsOf(models, presets);
    expect(labelOf(options, 'local/smol')).toBe('Smol');
    expect(labelOf(options, 'gone/model')).toBe('gone/model');
    expect(labelOf(options, null)).toBe('');
  });
});
