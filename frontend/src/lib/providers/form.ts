/**
 * The connection form's state and the request bodies made from it. The API key field
 * is write-only: empty on edit means "keep the stored key"; clearing it is explicit.
 */
import type { Connection, ConnectionCreate, ConnectionUpdate, OptionValue } from '../api/providers';

export interface ConnectionForm {
  name: string;
  type: string;
  baseUrl: string;
  /** A new key to store; never filled from the server. */
  apiKey: string;
  clearKey: boolean;
  prefix: string;
  /** Allow-list, one id per line or separated by commas. */
  models: string;
  enabled: boolean;
  /** `key=value` lines. */
  options: string;
}

export function emptyForm(type = ''): ConnectionForm {
  return {
    name: '',
    type,
    baseUrl: '',
    apiKey: '',
    clearKey: false,
    prefix: '',
    models: '',
    enabled: true,
    options: '',
  };
}

export function formOf(connection: Connection): ConnectionForm {
  return {
    name: connection.name,
    type: connection.type,
    baseUrl: connection.base_url,
    apiKey: '',
    clearKey: false,
    prefix: connection.prefix,
    models: connection.models.join('\n'),
    enabled: connection.enabled,
    options: Object.entries(connection.options)
      .map(([key, value]) => `${key}=${String(value)}`)
      .join('\n'),
  };
}

/** `a, b\nc` → `['a', 'b', 'c']`, without blanks or repeats. */
export function parseModelList(text: string): string[] {
  const ids = text
    .split(/[\n,]/)
    .map((part) => part.trim())
    .filter(Boolean);
  return [...new Set(ids)];
}

/** `key=value` lines → options; numbers and booleans keep their type. Throws on a bad line. */
export function parseOptions(text: string): Record<string, OptionValue> {
  const options: Record<string, OptionValue> = {};
  for (const [index, raw] of text.split('\n').entries()) {
    const line = raw.trim();
    if (!line) continue;
    const at = line.indexOf('=');
    if (at <= 0) throw new OptionsError(index + 1, line);
    const key = line.slice(0, at).trim();
    const value = line.slice(at + 1).trim();
    options[key] = typedValue(value);
  }
  return options;
}

export class OptionsError extends Error {
  constructor(
    readonly line: number,
    readonly text: string,
  ) {
    super(`line ${line}: "${text}" is not key=value`);
    this.name = 'OptionsError';
  }
}

function typedValue(value: string): OptionValue {
  if (value === 'true') return true;
  if (value === 'false') return false;
  if (/^-?\d+(\.\d+)?$/.test(value)) return Number(value);
  return value;
}

export function createBody(form: ConnectionForm): ConnectionCreate {
  const body: ConnectionCreate = {
    name: form.name.trim(),
    type: form.type,
    base_url: form.baseUrl.trim(),
    prefix: form.prefix.trim(),
    models: parseModelList(form.models),
    enabled: form.enabled,
    options: parseOptions(form.options),
  };
  if (form.apiKey) body.api_key = form.apiKey;
  return body;
}

/** Only what changed; the key only when a new one was typed or clearing was asked. */
export function updateBody(form: ConnectionForm, before: Connection): ConnectionUpdate {
  const body: ConnectionUpdate = {};
  const name = form.name.trim();
  const baseUrl = form.baseUrl.trim();
  const prefix = form.prefix.trim();
  const models = parseModelList(form.models);
  const options = parseOptions(form.options);
  if (name !== before.name) body.name = name;
  if (baseUrl !== before.base_url) body.base_url = baseUrl;
  if (prefix !== before.prefix) body.prefix = prefix;
  if (models.join('\n') !== before.models.join('\n')) body.models = models;
  if (form.enabled !== before.enabled) body.enabled = form.enabled;
  if (JSON.stringify(options) !== JSON.stringify(before.options)) body.options = options;
  if (form.apiKey) body.api_key = form.apiKey;
  else if (form.clearKey) body.api_key = null;
  return body;
}
