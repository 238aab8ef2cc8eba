import { api } from './client';
import type { Page } from './types';
import { toPage } from './types';

export type RunStatus =
  | 'queued'
  | 'running'
  | 'succeeded'
  | 'failed'
  | 'cancelled'
  | 'skipped'
  | 'reused'
  | (string & {});

/** A recorded error: its class, message and, for admins, the step that raised. */
export interface RunError {
  type?: string;
  message?: string;
  code?: string;
  step_id?: string;
  [key: string]: unknown;
}

/** A value too large for its row, kept by reference (`{"$blob": id, "bytes": n}`). */
export interface BlobRef {
  $blob: string;
  bytes: number;
}

export interface StepRun {
  run_id?: string;
  step_id: string;
  uses: string;
  executor?: string | null;
  status: RunStatus;
  attempts?: number;
  started_at?: string | null;
  finished_at?: string | null;
  duration_ms?: number | null;
  inputs?: unknown;
  outputs?: unknown;
  error?: RunError | string | null;
  /** Admins only. */
  traceback?: string | null;
  logs?: string | null;
  needs?: string[];
}

export interface Run {
  id: string;
  pipeline: string;
  version?: string;
  status: RunStatus;
  error?: RunError | string | null;
  actor_id?: string | null;
  resumed_from?: string | null;
  created_at?: string;
  started_at?: string | null;
  finished_at?: string | null;
  duration_ms?: number | null;
  content_hash?: string;
  inputs?: unknown;
  outputs?: unknown;
  traceback?: string | null;
  actor?: Record<string, unknown>;
  steps?: StepRun[] | null;
}

export interface PipelineStepInfo {
  id: string;
  uses: string;
  needs?: string[];
  name?: string;
  stream?: boolean;
}

/** A validation problem in a pipeline file (admins see these). */
export interface PipelineIssue {
  code: string;
  message: string;
  hint?: string | null;
  file?: string | null;
  line?: number | null;
  column?: number | null;
}

export interface PipelineInfo {
  name: string;
  version?: string;
  description?: string;
  content_hash?: string | null;
  inputs?: Record<string, { type?: string; description?: string; default?: unknown }>;
  runnable?: boolean;
  /** Admins only. */
  file?: string;
  issues?: PipelineIssue[];
  /** Not offered yet; the graph uses them when the API does. */
  steps?: PipelineStepInfo[];
  mermaid?: string;
  graph?: string;
}

export interface RunQuery {
  status?: string;
  pipeline?: string;
  cursor?: string | null;
  limit?: number;
}

const id = encodeURIComponent;

export const runsApi = {
  pipelines: async (): Promise<PipelineInfo[]> =>
    toPage<PipelineInfo>(await api<unknown>('/api/v1/pipelines'), 'pipelines').items,
  list: async (query: RunQuery): Promise<Page<Run>> =>
    toPage<Run>(await api<unknown>('/api/v1/runs', { query: { ...query } }), 'runs'),
  get: (runId: string) => api<Run>(`/api/v1/runs/${id(runId)}`),
  cancel: (runId: string) => api<Run>(`/api/v1/runs/${id(runId)}/cancel`, { method: 'POST' }),
  /** A new run that reuses what succeeded in this failed or cancelled one. */
  resume: (runId: string) => api<Run>(`/api/v1/runs/${id(runId)}/resume`, { method: 'POST' }),
  value: async (runId: string, valueId: string): Promise<unknown> =>
    (await api<{ value: unknown }>(`/api/v1/runs/${id(runId)}/values/${id(valueId)}`)).value,
  start: (pipeline: string, inputs: Record<string, unknown>) =>
    api<Run>(`/api/v1/pipelines/${id(pipeline)}/runs`, { method: 'POST', body: { inputs } }),
};
