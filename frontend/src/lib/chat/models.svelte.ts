/** What a chat can be answered by: chat models of the shared list, and the user's presets. */
import { PRESET_PREFIX, chatApi, type Chat, type Preset } from '../api/chat';
import { ApiError } from '../api/client';
import { modelsApi, type ModelInfo } from '../api/providers';
import { chatModels } from '../providers/models';

const PREFERRED_KEY = 'notewell.chat.model';

export interface ModelOption {
  /** What the API takes: a model id, or `preset:<id>`. */
  ref: string;
  label: string;
  group: 'model' | 'preset';
}

export function optionsOf(models: ModelInfo[], presets: Preset[]): ModelOption[] {
  return [
    ...chatModels(models).map((model) => ({ ref: model.id, label: model.name || model.id, group: 'model' as const })),
    ...presets.map((preset) => ({ ref: PRESET_PREFIX + preset.id, label: preset.name, group: 'preset' as const })),
  ];
}

/** The reference a chat answers with: its first model, else its preset, else '' (the default). */
export function refOf(chat: Pick<Chat, 'models' | 'preset_id'>): string {
  return chat.models[0] ?? (chat.preset_id ? PRESET_PREFIX + chat.preset_id : '');
}

/** The most models one prompt goes to side by side (the server's default limit). */
export const MAX_MODELS = 4;

/** The references a chat answers with ('' alone: the default model). */
export function refsOf(chat: Pick<Chat, 'models' | 'preset_id'>): string[] {
  return chat.models.length ? [...chat.models] : [refOf(chat)];
}

/**
 * One more model to compare: the first offered model not chosen yet (the default model
 * is replaced by the first offered one, since several answers need named models).
 */
export function withAnotherModel(refs: string[], options: ModelOption[]): string[] {
  const models = options.filter((option) => option.group === 'model');
  const chosen = refs.filter(Boolean);
  if (!chosen.length && models[0]) chosen.push(models[0].ref);
  const next = models.find((option) => !chosen.includes(option.ref)) ?? models[0];
  return next && chosen.length < MAX_MODELS ? [...chosen, next.ref] : chosen;
}

/** A short name for a model reference. */
export function labelOf(options: ModelOption[], ref: string | null | undefined): string {
  if (!ref) return '';
  return options.find((option) => option.ref === ref)?.label ?? ref;
}

function storage(): Storage | null {
  try {
    return globalThis.localStorage ?? null;
  } catch {
    return null;
  }
}

export class ModelChoices {
  options = $state.raw<ModelOption[]>([]);
  error = $state<ApiError | null>(null);
  loaded = $state(false);

  async load(): Promise<void> {
    try {
      const [models, presets] = await Promise.all([modelsApi.list(), chatApi.presets()]);
      this.options = optionsOf(models.data, presets);
      this.error = null;
    } catch (error) {
      this.error = error instanceof ApiError ? error : new ApiError({ title: 'Error', status: 0, detail: String(error) });
    } finally {
      this.loaded = true;
    }
  }

  /** The model last picked for a new chat ('' = the server's default), if still offered. */
  get preferred(): string {
    const saved = storage()?.getItem(PREFERRED_KEY) ?? '';
    return !this.loaded || this.options.some((option) => option.ref === saved) ? saved : '';
  }

  set preferred(ref: string) {
    if (ref) storage()?.setItem(PREFERRED_KEY, ref);
    else storage()?.removeItem(PREFERRED_KEY);
  }
}
