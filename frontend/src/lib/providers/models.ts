/** Helpers over the model list: search, and what a chat may pick. */
import type { ModelInfo } from '../api/providers';

/** Models whose id, name, connection or a capability contains every word of `query`. */
export function filterModels(models: ModelInfo[], query: string): ModelInfo[] {
  const words = query.toLowerCase().split(/\s+/).filter(Boolean);
  if (!words.length) return models;
  return models.filter((model) => {
    const haystack = [model.id, model.name, model.connection, model.provider, ...model.capabilities]
      .join(' ')
      .toLowerCase();
    return words.every((word) => haystack.includes(word));
  });
}

/** The models that can answer in a chat. */
export function chatModels(models: ModelInfo[]): ModelInfo[] {
  return models.filter((model) => model.capabilities.includes('chat'));
}
