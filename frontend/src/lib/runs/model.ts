/**
 * Pure functions behind the run view: step order, execution counts, live events
 * folded into a run, and the pipeline graph laid out in layers.
 */
import type { PipelineInfo, Run, RunStatus, StepRun } from '../api/runs';

export type Tone = 'idle' | 'active' | 'ok' | 'bad' | 'muted';

const TONES: Record<string, Tone> = {
  pending: 'idle',
  queued: 'idle',
  waiting: 'idle',
  running: 'active',
  retrying: 'active',
  cancelling: 'active',
  succeeded: 'ok',
  success: 'ok',
  completed: 'ok',
  finished: 'ok',
  failed: 'bad',
  error: 'bad',
  cancelled: 'muted',
  canceled: 'muted',
  skipped: 'muted',
  reused: 'ok',
};

export function toneOf(status: RunStatus | undefined): Tone {
  return TONES[status ?? 'pending'] ?? 'idle';
}

export function isActive(status: RunStatus | undefined): boolean {
  const tone = toneOf(status);
  return tone === 'idle' || tone === 'active';
}

export function isFinished(status: RunStatus | undefined): boolean {
  return !isActive(status);
}

/** Steps in execution order: started ones by start time, then the rest in pipeline order. */
export function orderSteps(steps: StepRun[], pipelineOrder: string[] = []): StepRun[] {
  const position = new Map(pipelineOrder.map((stepId, index) => [stepId, index]));
  const fallback = new Map(steps.map((step, index) => [step, index]));
  return [...steps].sort((a, b) => {
    const aStart = a.started_at ? Date.parse(a.started_at) : Number.POSITIVE_INFINITY;
    const bStart = b.started_at ? Date.parse(b.started_at) : Number.POSITIVE_INFINITY;
    if (aStart !== bStart) return aStart - bStart;
    const aPos = position.get(a.step_id) ?? fallback.get(a) ?? 0;
    const bPos = position.get(b.step_id) ?? fallback.get(b) ?? 0;
    return aPos - bPos;
  });
}

/** Jupyter-style execution counts: 1, 2, 3… in start order; unstarted steps get none. */
export function executionCounts(ordered: StepRun[]): Map<StepRun, number> {
  const counts = new Map<StepRun, number>();
  let next = 1;
  for (const step of ordered) {
    const tone = toneOf(step.status);
    // like Jupyter, only cells that ran get a number (a skipped step did not run)
    if (step.started_at || tone === 'active' || tone === 'ok' || tone === 'bad') {
      counts.set(step, next++);
    }
  }
  return counts;
}

/** Milliseconds between start and finish (or `now` while running); null if not started. */
export function durationMs(
  startedAt: string | null | undefined,
  finishedAt: string | null | undefined,
  now: number = Date.now(),
): number | null {
  if (!startedAt) return null;
  const end = finishedAt ? Date.parse(finishedAt) : now;
  return Math.max(0, end - Date.parse(startedAt));
}

export function formatDuration(ms: number | null): string {
  if (ms === null) return '';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
  const minutes = Math.floor(ms / 60_000);
  return `${minutes} min ${Math.round((ms % 60_000) / 1000)} s`;
}

/** The text a stream chunk carries: a string, or an object with text/delta/content. */
export function chunkText(chunk: unknown): string {
  if (typeof chunk === 'string') return chunk;
  if (chunk && typeof chunk === 'object') {
    const doc = chunk as Record<string, unknown>;
    for (const key of ['text', 'delta', 'content', 'token']) {
      if (typeof doc[key] === 'string') return doc[key];
    }
  }
  return chunk === undefined || chunk === null ? '' : JSON.stringify(chunk);
}

export interface LiveRun {
  run: Run;
  /** Text streamed so far by each step, by step id. */
  streams: Record<string, string>;
  /** The pipeline's steps in file order, when an event told us. */
  order?: string[];
}

export interface BusEvent {
  id?: string;
  topic: string;
  data: Record<string, unknown>;
}

function stepFrom(data: Record<string, unknown>, existing?: StepRun): StepRun {
  const step: StepRun = existing ? { ...existing } : {
    step_id: String(data.step_id),
    uses: String(data.uses ?? ''),
    status: 'pending',
  };
  for (const key of ['uses', 'status', 'attempts', 'started_at', 'finished_at', 'duration_ms',
    'inputs', 'outputs', 'error', 'traceback', 'logs', 'executor'] as const) {
    if (data[key] !== undefined) (step as unknown as Record<string, unknown>)[key] = data[key];
  }
  return step;
}

function withStep(run: Run, data: Record<string, unknown>, patch: Partial<StepRun>): Run {
  const steps = [...(run.steps ?? [])];
  const stepId = String(data.step_id);
  const index = steps.findIndex((step) => step.step_id === stepId);
  const updated = { ...stepFrom(data, index >= 0 ? steps[index] : undefined), ...patch };
  if (index >= 0) steps[index] = updated;
  else steps.push(updated);
  return { ...run, steps };
}

/** Fold one live event into the run; events for other runs leave it unchanged. */
export function applyEvent(live: LiveRun, event: BusEvent): LiveRun {
  const data = event.data ?? {};
  const runId = data.run_id ?? (data.run as { id?: string } | undefined)?.id;
  if (runId !== live.run.id) return live;
  const now = new Date().toISOString();
  const { run } = live;
  switch (event.topic) {
    case 'run.started': {
      const order = Array.isArray(data.steps) ? data.steps.map(String) : live.order;
      return { ...live, order, run: { ...run, status: 'running', started_at: run.started_at ?? now } };
    }
    case 'run.step_queued':
      // waiting for a free worker: not started yet, so no start time
      return { ...live, run: withStep(run, data, { status: 'queued', finished_at: null }) };
    case 'run.step_started':
      return {
        ...live,
        run: withStep(run, data, {
          status: 'running',
          started_at: (data.started_at as string | undefined) ?? now,
          finished_at: null,
        }),
        streams: { ...live.streams, [String(data.step_id)]: '' },
      };
    case 'run.step_finished':
      return {
        ...live,
        run: withStep(run, data, {
          status: (data.status as string | undefined) ?? 'succeeded',
          finished_at: (data.finished_at as string | undefined) ?? now,
        }),
      };
    case 'run.chunk': {
      const stepId = String(data.step_id);
      const text = (live.streams[stepId] ?? '') + chunkText(data.chunk);
      return { ...live, streams: { ...live.streams, [stepId]: text } };
    }
    case 'run.finished':
      return {
        ...live,
        run: {
          ...run,
          status: (data.status as string | undefined) ?? run.status,
          finished_at: (data.finished_at as string | undefined) ?? now,
          outputs: data.outputs ?? run.outputs,
          error: (data.error as Run['error']) ?? run.error,
        },
      };
    default:
      return live;
  }
}

export interface GraphNode {
  id: string;
  uses: string;
  layer: number;
  column: number;
}

export interface Graph {
  nodes: GraphNode[];
  edges: Array<[string, string]>;
  layers: number;
  width: number;
}

/** Edges `a --> b` (or `a --- b`) from Mermaid flowchart text; labels are ignored. */
export function edgesFromMermaid(text: string): Array<[string, string]> {
  const edges: Array<[string, string]> = [];
  const pattern =
    /([A-Za-z0-9_-]+)(?:\[[^\]]*\]|\([^)]*\))?\s*-{2,}>?\s*(?:\|[^|]*\|)?\s*([A-Za-z0-9_-]+)/g;
  for (const line of text.split('\n')) {
    for (const match of line.matchAll(pattern)) {
      if (match[1] && match[2]) edges.push([match[1], match[2]]);
    }
  }
  return edges;
}

/** The graph of a run's steps, from the pipeline's `needs` (or its Mermaid text). */
export function buildGraph(pipeline: PipelineInfo | undefined, steps: StepRun[]): Graph {
  const uses = new Map<string, string>();
  const needs = new Map<string, string[]>();
  for (const step of pipeline?.steps ?? []) {
    uses.set(step.id, step.uses);
    needs.set(step.id, step.needs ?? []);
  }
  for (const step of steps) {
    if (!uses.has(step.step_id)) uses.set(step.step_id, step.uses);
    if (step.needs && !needs.get(step.step_id)?.length) needs.set(step.step_id, step.needs);
  }
  const mermaid = pipeline?.mermaid ?? pipeline?.graph;
  const hasNeeds = [...needs.values()].some((list) => list.length > 0);
  if (!hasNeeds && mermaid) {
    for (const [from, to] of edgesFromMermaid(mermaid)) {
      if (uses.has(from) && uses.has(to)) needs.set(to, [...(needs.get(to) ?? []), from]);
    }
  }
  const layerOf = new Map<string, number>();
  const visiting = new Set<string>();
  const depth = (stepId: string): number => {
    const known = layerOf.get(stepId);
    if (known !== undefined) return known;
    if (visiting.has(stepId)) return 0; // a cycle would be a validation error; do not loop
    visiting.add(stepId);
    const parents = (needs.get(stepId) ?? []).filter((parent) => uses.has(parent));
    const layer = parents.length ? Math.max(...parents.map(depth)) + 1 : 0;
    visiting.delete(stepId);
    layerOf.set(stepId, layer);
    return layer;
  };
  const nodes: GraphNode[] = [];
  const perLayer = new Map<number, number>();
  const known = [...needs.values()].some((list) => list.length > 0);
  let index = 0;
  for (const stepId of uses.keys()) {
    // without any dependency information, show the steps as a column in run order
    const layer = known ? depth(stepId) : index++;
    const column = perLayer.get(layer) ?? 0;
    perLayer.set(layer, column + 1);
    nodes.push({ id: stepId, uses: uses.get(stepId) ?? '', layer, column });
  }
  const edges: Array<[string, string]> = [];
  for (const [stepId, parents] of needs) {
    for (const parent of parents) if (uses.has(parent)) edges.push([parent, stepId]);
  }
  return {
    nodes,
    edges,
    layers: nodes.length ? Math.max(...nodes.map((node) => node.layer)) + 1 : 0,
    width: Math.max(1, ...perLayer.values()),
  };
}

/** A person-readable line for a recorded error. */
export function errorMessage(error: Run['error']): string {
  if (!error) return '';
  if (typeof error === 'string') return error;
  const kind = typeof error.type === 'string' ? error.type : '';
  const message = typeof error.message === 'string' ? error.message : '';
  if (kind && message) return `${kind}: ${message}`;
  return message || kind || JSON.stringify(error);
}

/**
 * The fetched record, plus what live events know that it does not yet: steps that
 * are still running (step rows are written when a step ends) and streamed text.
 */
export function mergeRun(fetched: Run, current: Run | undefined): Run {
  if (!current || current.id !== fetched.id) return fetched;
  const recorded = new Set((fetched.steps ?? []).map((step) => step.step_id));
  const pending = (current.steps ?? []).filter((step) => !recorded.has(step.step_id));
  const finishedLive = isFinished(current.status) && isActive(fetched.status);
  return {
    ...fetched,
    // an event may already have said the run ended while the record catches up
    status: finishedLive ? current.status : fetched.status,
    steps: [...(fetched.steps ?? []), ...pending],
  };
}
