import { describe, expect, it } from 'vitest';
import { MAX_MODELS, labelOf, optionsOf, refOf, refsOf, withAnotherModel } from './models.svelte';

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

  it("reads all of a chat's models, for answers side by side", () => {
    expect(refsOf({ models: ['a', 'b'], preset_id: null })).toEqual(['a', 'b']);
    expect(refsOf({ models: [], preset_id: 'p1' })).toEqual(['preset:p1']);
    expect(refsOf({ models: [], preset_id: null })).toEqual(['']);
  });

  it('adds the next model not chosen yet, up to the limit', () => {
    const options = optionsOf(
      [...models, { ...models[0]!, id: 'up/big', name: 'Big' }, { ...models[0]!, id: 'up/tiny', name: 'Tiny' }],
      presets,
    );
    expect(withAnotherModel(['local/smol'], options)).toEqual(['local/smol', 'up/big']);
    expect(withAnotherModel(['up/big', 'preset:p1'], options)).toEqual(['up/big', 'preset:p1', 'local/smol']);
    // the default model is no model to compare: the first offered one stands in for it
    expect(withAnotherModel([''], options)).toEqual(['local/smol', 'up/big']);
    // every model chosen: the first again (the same model twice compares two samples)
    expect(withAnotherModel(['local/smol', 'up/big', 'up/tiny'], options)).toHaveLength(MAX_MODELS);
    expect(withAnotherModel(['a', 'b', 'c', 'd'], options)).toEqual(['a', 'b', 'c', 'd']);
    expect(withAnotherModel([''], [])).toEqual([]);
  });

  it('names a model by its label, or by its id when it is no longer offered', () => {
    const options = optionsOf(models, presets);
    expect(labelOf(options, 'local/smol')).toBe('Smol');
    expect(labelOf(options, 'gone/model')).toBe('gone/model');
    expect(labelOf(options, null)).toBe('');
  });
});
