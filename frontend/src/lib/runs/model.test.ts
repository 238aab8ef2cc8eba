import { describe, expect, it } from 'vitest';
import type { Run, StepRun } from '../api/runs';
import {
  applyEvent,
  buildGraph,
  chunkText,
  edgesFromMermaid,
  errorMessage,
  executionCounts,
  formatDuration,
  isActive,
  mergeRun,
  orderSteps,
  toneOf,
  type LiveRun,
} from './model';

const step = (step_id: string, started_at: string | null, status = 'succeeded'): StepRun => ({
  step_id,
  uses: `core.${step_id}`,
  status,
  started_at,
});

describe('step order and counts', () => {
  it('orders started steps by start time, then the rest in pipeline order', () => {
    const steps = [step('c', null, 'queued'), step('b', '2024-01-01T00:00:02Z'), step('a', '2024-01-01T00:00:01Z'), step('d', null, 'queued')];
    const ordered = orderSteps(steps, ['a', 'b', 'd', 'c']);
    expect(ordered.map((s) => s.step_id)).toEqual(['a', 'b', 'd', 'c']);
    const counts = executionCounts(ordered);
    expect(ordered.map((s) => counts.get(s))).toEqual([1, 2, undefined, undefined]);
  });

  it('formats durations', () => {
    expect(formatDuration(null)).toBe('');
    expect(formatDuration(250)).toBe('250 ms');
    expect(formatDuration(1500)).toBe('1.50 s');
    expect(formatDuration(125_000)).toBe('2 min 5 s');
  });

  it('knows which statuses are still going', () => {
    expect(isActive('running')).toBe(true);
    expect(isActive('queued')).toBe(true);
    expect(isActive('succeeded')).toBe(false);
    expect(toneOf('reused')).toBe('ok');
    expect(toneOf('something-new')).toBe('idle');
  });
});

describe('live events', () => {
  const start: LiveRun = { run: { id: 'r1', pipeline: 'chat', status: 'queued', steps: [] }, streams: {} };
  const ev = (topic: string, data: Record<string, unknown>) => ({ id: 'e', topic, data: { run_id: 'r1', ...data } });

  it('fills a streaming cell as chunks arrive, then finishes it', () => {
    let live = applyEvent(start, ev('run.started', {}));
    expect(live.run.status).toBe('running');
    live = applyEvent(live, ev('run.step_started', { step_id: 'answer', uses: 'providers.generate' }));
    expect(live.run.steps?.[0]).toMatchObject({ step_id: 'answer', status: 'running', uses: 'providers.generate' });
    live = applyEvent(live, ev('run.chunk', { step_id: 'answer', chunk: 'Hel' }));
    live = applyEvent(live, ev('run.chunk', { step_id: 'answer', chunk: { text: 'lo' } }));
    expect(live.streams.answer).toBe('Hello');
    live = applyEvent(live, ev('run.step_finished', { step_id: 'answer', status: 'succeeded', outputs: { text: 'Hello' } }));
    expect(live.run.steps?.[0]).toMatchObject({ status: 'succeeded', outputs: { text: 'Hello' } });
    live = applyEvent(live, ev('run.finished', { status: 'succeeded' }));
    expect(live.run.status).toBe('succeeded');
    expect(live.run.finished_at).toBeTruthy();
  });

  it('shows a step queued until a worker starts it', () => {
    let live = applyEvent(start, ev('run.started', {}));
    live = applyEvent(live, ev('run.step_queued', { step_id: 'embed', uses: 'rag.embed', status: 'queued', executor: 'celery' }));
    expect(live.run.steps?.[0]).toMatchObject({ step_id: 'embed', status: 'queued', executor: 'celery' });
    expect(live.run.steps?.[0]?.started_at).toBeFalsy();
    live = applyEvent(live, ev('run.step_started', { step_id: 'embed', status: 'running' }));
    expect(live.run.steps?.[0]).toMatchObject({ step_id: 'embed', status: 'running', executor: 'celery' });
    expect(live.run.steps?.[0]?.started_at).toBeTruthy();
  });

  it('learns the pipeline order from run.started', () => {
    const live = applyEvent(start, ev('run.started', { steps: ['b', 'a'] }));
    expect(live.order).toEqual(['b', 'a']);
  });

  it('ignores events of other runs and unknown topics', () => {
    const other = { id: 'e', topic: 'run.started', data: { run_id: 'r2' } };
    expect(applyEvent(start, other)).toBe(start);
    expect(applyEvent(start, ev('run.something_else', {}))).toBe(start);
  });

  it('reads chunk text from strings and common shapes', () => {
    expect(chunkText('a')).toBe('a');
    expect(chunkText({ delta: 'b' })).toBe('b');
    expect(chunkText({ n: 1 })).toBe('{"n":1}');
    expect(chunkText(null)).toBe('');
  });

  it('keeps running steps known from events when the record is refetched', () => {
    const current: Run = { id: 'r1', pipeline: 'p', status: 'running', steps: [step('a', 't1'), step('b', 't2', 'running')] };
    const fetched: Run = { id: 'r1', pipeline: 'p', status: 'running', steps: [step('a', 't1')] };
    expect(mergeRun(fetched, current).steps?.map((s) => s.step_id)).toEqual(['a', 'b']);
    const ended: Run = { ...current, status: 'succeeded' };
    expect(mergeRun(fetched, ended).status).toBe('succeeded');
  });
});

describe('graph', () => {
  it('lays steps out in layers from needs', () => {
    const graph = buildGraph(
      { name: 'p', steps: [{ id: 'load', uses: 'x.a' }, { id: 'left', uses: 'x.b', needs: ['load'] }, { id: 'right', uses: 'x.c', needs: ['load'] }, { id: 'join', uses: 'x.d', needs: ['left', 'right'] }] },
      [],
    );
    const layer = Object.fromEntries(graph.nodes.map((n) => [n.id, n.layer]));
    expect(layer).toEqual({ load: 0, left: 1, right: 1, join: 2 });
    expect(graph.layers).toBe(3);
    expect(graph.width).toBe(2);
    expect(graph.edges).toContainEqual(['left', 'join']);
  });

  it('reads edges from Mermaid text when there are no needs', () => {
    expect(edgesFromMermaid('flowchart TD\n  a[Load] --> b\n  b -->|ok| c(Answer)\n')).toEqual([['a', 'b'], ['b', 'c']]);
    const graph = buildGraph({ name: 'p', mermaid: 'graph TD\na --> b' }, [step('a', null), step('b', null)]);
    expect(graph.nodes.find((n) => n.id === 'b')?.layer).toBe(1);
  });

  it('shows steps as a column in run order when nothing says how they depend', () => {
    const graph = buildGraph(undefined, [step('a', 't1'), step('b', 't2')]);
    expect(graph.nodes.map((n) => [n.id, n.layer])).toEqual([['a', 0], ['b', 1]]);
    expect(graph.edges).toEqual([]);
  });

  it('survives a cycle without looping', () => {
    const graph = buildGraph({ name: 'p', steps: [{ id: 'a', uses: 'x', needs: ['b'] }, { id: 'b', uses: 'x', needs: ['a'] }] }, []);
    expect(graph.nodes).toHaveLength(2);
  });
});

describe('errors', () => {
  it('reads recorded errors', () => {
    expect(errorMessage(null)).toBe('');
    expect(errorMessage('boom')).toBe('boom');
    expect(errorMessage({ type: 'ValueError', message: 'bad' })).toBe('ValueError: bad');
  });
});
