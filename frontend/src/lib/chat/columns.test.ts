import { describe, expect, it } from 'vitest';
import type { Message } from '../api/chat';
import {
  applyChunkKnown,
  applyCreatedKnown,
  columnPosition,
  columnsOf,
  placeMessage,
  removeKnown,
  sideBySide,
  unreadSiblings,
  withPath,
  type Known,
} from './columns';

function msg(id: string, parent: string | null, extra: Partial<Message> = {}): Message {
  return {
    id, chat_id: 'c', parent_id: parent, role: 'assistant', content: '', model: null, preset_id: null,
    status: 'complete', error: null, run_id: null, usage: null, meta: {}, created_at: '', updated_at: '', seq: 0,
    ...extra,
  };
}

const user = (id: string, parent: string | null) => msg(id, parent, { role: 'user' });
/** An answer of group `g1` in `column`. */
const col = (id: string, column: number, extra: Partial<Message> = {}) =>
  msg(id, 'u1', { model: `m${column}`, meta: { side_by_side: { group: 'a1', column } }, ...extra });
const ids = (messages: Message[]) => messages.map((m) => m.id);
const empty: Known = { path: [], others: [] };

describe('answers side by side', () => {
  it('reads the mark the server puts on them, and nothing else', () => {
    expect(sideBySide(col('a1', 1))).toEqual({ group: 'a1', column: 1 });
    expect(sideBySide(msg('x', null))).toBeNull();
    expect(sideBySide(msg('x', null, { meta: { side_by_side: { group: 3 } } }))).toBeNull();
  });

  it('puts the first answer of a send on show and keeps the others beside it', () => {
    const known = applyCreatedKnown(empty, user('u1', null), [
      col('a1', 0, { status: 'streaming' }),
      col('a2', 1, { status: 'streaming' }),
    ]);
    expect(ids(known.path)).toEqual(['u1', 'a1']);
    expect(ids(known.others)).toEqual(['a2']);
    const columns = columnsOf(known.path[1] as Message, known.others);
    expect(columns?.map((c) => [c.column, c.shown.id, c.current])).toEqual([
      [0, 'a1', true],
      [1, 'a2', false],
    ]);
  });

  it('streams every column, each from its own chunks', () => {
    let known = applyCreatedKnown(empty, user('u1', null), [
      col('a1', 0, { status: 'streaming' }),
      col('a2', 1, { status: 'streaming' }),
    ]);
    for (const chunk of [
      { message_id: 'a2', seq: 1, content: 'Bon' },
      { message_id: 'a1', seq: 1, content: 'Hel' },
      { message_id: 'a2', seq: 2, content: 'jour' },
      { message_id: 'a2', seq: 2, content: 'jour' }, // twice: used once
    ]) {
      known = applyChunkKnown(known, chunk).known;
    }
    expect(known.path[1]?.content).toBe('Hel');
    expect(known.others[0]?.content).toBe('Bonjour');
    expect(applyChunkKnown(known, { message_id: 'a2', seq: 5, content: '!' }).gap).toBe(true);
  });

  it('never lets a finished answer beside the branch take its place', () => {
    let known = applyCreatedKnown(empty, user('u1', null), [
      col('a1', 0, { status: 'streaming' }),
      col('a2', 1, { status: 'streaming' }),
    ]);
    known = placeMessage(known, col('a1', 0, { content: 'one' }), false);
    known = placeMessage(known, col('a2', 1, { content: 'two' }), false);
    expect(ids(known.path)).toEqual(['u1', 'a1']);
    expect(known.others[0]).toMatchObject({ id: 'a2', content: 'two', status: 'complete' });
    // an update of one never seen, beside the branch: kept beside it, the branch stays
    known = placeMessage(known, col('a3', 2, { content: 'three' }), false);
    expect(ids(known.path)).toEqual(['u1', 'a1']);
    expect(ids(known.others)).toEqual(['a2', 'a3']);
  });

  it('moves the branch to another version of a column, keeping the old one beside it', () => {
    let known: Known = {
      path: [user('u1', null), col('a1', 0, { sibling_ids: ['a1', 'a2'] })],
      others: [col('a2', 1)],
    };
    known = applyCreatedKnown(known, null, [col('a3', 1, { status: 'streaming' })]);
    expect(ids(known.path)).toEqual(['u1', 'a3']);
    expect(ids(known.others).sort()).toEqual(['a1', 'a2']);
    const columns = columnsOf(known.path[1] as Message, known.others) ?? [];
    expect(columns.map((c) => [c.column, c.shown.id, c.current])).toEqual([
      [0, 'a1', false],
      [1, 'a3', true],
    ]);
    expect(columns[1]?.versions.map((v) => v.id)).toEqual(['a2', 'a3']);
    expect(columnPosition(columns[1] as (typeof columns)[number])).toEqual({ index: 1, count: 2, previous: 'a2', next: undefined });
  });

  it('shows the version picked in a column off the branch, else its newest', () => {
    const answer = col('a1', 0, { sibling_ids: ['a1', 'a2', 'a3'] });
    const others = [col('a2', 1), col('a3', 1)];
    expect(columnsOf(answer, others)?.[1]?.shown.id).toBe('a3');
    expect(columnsOf(answer, others, { 1: 'a2' })?.[1]?.shown.id).toBe('a2');
    expect(columnsOf(answer, others, { 1: 'gone' })?.[1]?.shown.id).toBe('a3');
  });

  it('is no longer side by side when one column is left, or for answers of other groups', () => {
    const answer = col('a1', 0, { sibling_ids: ['a1', 'a2'] });
    expect(columnsOf(answer, [])).toBeNull();
    expect(columnsOf(answer, [col('a2', 1, { meta: { side_by_side: { group: 'zz', column: 1 } } })])).toBeNull();
    expect(columnsOf(answer, [col('a9', 1)])).toBeNull(); // not among its siblings (deleted)
    expect(columnsOf(msg('a1', 'u1', { sibling_ids: ['a1', 'a2'] }), [col('a2', 1)])).toBeNull();
  });

  it('forgets answers beside a prompt that is no longer on show', () => {
    const known: Known = { path: [user('u1', null), col('a1', 0)], others: [col('a2', 1)] };
    expect(withPath(known, [user('u9', null)]).others).toEqual([]);
    const deleted = removeKnown(known, ['a1']);
    expect(ids(deleted.path)).toEqual(['u1']);
    expect(ids(deleted.others)).toEqual(['a2']);
    expect(removeKnown(known, ['u1'])).toEqual({ path: [], others: [] });
  });

  it('lists the siblings of side-by-side answers it has yet to read', () => {
    const known: Known = {
      path: [user('u1', null), col('a1', 0, { sibling_ids: ['a1', 'a2', 'a3'] })],
      others: [col('a2', 1)],
    };
    expect(unreadSiblings(known)).toEqual(['a3']);
    expect(unreadSiblings({ path: [user('u1', null), msg('a1', 'u1', { sibling_ids: ['a1', 'a2'] })], others: [] })).toEqual([]);
  });
});
