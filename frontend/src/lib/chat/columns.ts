/**
 * Answers written side by side: one prompt sent to several models gives one answer per
 * model, siblings under the prompt. The server marks them `meta.side_by_side`
 * (`{group, column}`; another version of one of them keeps its column), and keeps one
 * of them on the branch on show — the one the conversation continues from. The others
 * are not on that branch, so a thread keeps them beside it (`Known.others`); these pure
 * functions keep both lists current and lay the answers out in columns.
 */
import type { Message } from '../api/chat';
import { applyChunk, removeMessages, siblingsOf, upsertMessage, type ChunkEvent } from './thread';

export interface SideBySide {
  /** The id of the first answer of the send that wrote them. */
  group: string;
  column: number;
}

/** The messages a thread knows: the branch on show, and side-by-side answers beside it. */
export interface Known {
  path: Message[];
  others: Message[];
}

export interface Column {
  column: number;
  /** Versions of this column's answer, oldest first. */
  versions: Message[];
  /** The version shown: the one on the branch, else the one picked, else the newest. */
  shown: Message;
  /** The branch on show (the conversation) continues from this column. */
  current: boolean;
}

export function sideBySide(message: Pick<Message, 'meta'>): SideBySide | null {
  const mark = message.meta?.side_by_side as Partial<SideBySide> | undefined;
  if (!mark || typeof mark.group !== 'string' || typeof mark.column !== 'number') return null;
  return { group: mark.group, column: mark.column };
}

/** An answer beside one on show: a side-by-side answer whose parent is on the branch. */
function besidePath(path: Message[], message: Message): boolean {
  if (message.role !== 'assistant' || message.parent_id === null || !sideBySide(message)) return false;
  return path.some((item) => item.id === message.parent_id) && !path.some((item) => item.id === message.id);
}

function sameIds(a: Message[], b: Message[]): boolean {
  return a.length === b.length && a.every((item, i) => item.id === b[i]?.id);
}

/**
 * The branch changed from `before` to `after`: answers that left it stay beside it (a
 * column picked elsewhere, another version), answers now on it leave `others`, and
 * those whose prompt is no longer on show are forgotten.
 */
export function withPath(known: Known, after: Message[]): Known {
  if (sameIds(known.path, after)) return { path: after, others: known.others };
  const kept = new Map<string, Message>();
  for (const item of [...known.others, ...known.path]) if (besidePath(after, item)) kept.set(item.id, item);
  return { path: after, others: [...kept.values()] };
}

/** Add side-by-side answers read from the server (kept only if beside the branch). */
export function addOthers(known: Known, messages: Message[]): Known {
  const fresh = messages.filter((item) => besidePath(known.path, item) && !known.others.some((o) => o.id === item.id));
  return fresh.length ? { path: known.path, others: [...known.others, ...fresh] } : known;
}

/** What a send or regenerate committed: the first answer goes on show, the rest beside it. */
export function applyCreatedKnown(known: Known, prompt: Message | null, answers: Message[]): Known {
  let path = prompt ? upsertMessage(known.path, prompt) : known.path;
  for (const answer of answers) path = upsertMessage(path, answer);
  return addOthers(withPath(known, path), answers);
}

/**
 * A message was created (`created: true`, it may start a branch) or changed. A change
 * to a message this tab has never seen never moves the branch: a side-by-side answer
 * beside it is kept beside it, one that continues it is added, anything else waits for
 * the next read of the chat.
 */
export function placeMessage(known: Known, message: Message, created: boolean): Known {
  const other = known.others.findIndex((item) => item.id === message.id);
  if (other >= 0) {
    const current = known.others[other] as Message;
    if (message.status === 'streaming' && message.seq < current.seq) return known; // an older checkpoint
    const others = known.others.map((item, i) => (i === other ? { ...message, sibling_ids: item.sibling_ids } : item));
    return { path: known.path, others };
  }
  const onPath = known.path.some((item) => item.id === message.id);
  const last = known.path[known.path.length - 1];
  if (onPath || created || message.parent_id === (last?.id ?? null)) {
    return addOthers(withPath(known, upsertMessage(known.path, message)), [message]);
  }
  return addOthers(known, [message]);
}

/** Messages deleted elsewhere: gone from the branch and from beside it. */
export function removeKnown(known: Known, ids: string[]): Known {
  const gone = new Set(ids);
  const left = { path: known.path.filter((item) => !gone.has(item.id)), others: known.others.filter((item) => !gone.has(item.id)) };
  return withPath(left, removeMessages(known.path, ids));
}

/** A chunk of any answer on show or beside it. */
export function applyChunkKnown(known: Known, chunk: ChunkEvent): { known: Known; gap: boolean } {
  const inPath = applyChunk(known.path, chunk);
  if (inPath.gap || inPath.messages !== known.path) return { known: { ...known, path: inPath.messages }, gap: inPath.gap };
  const beside = applyChunk(known.others, chunk);
  return { known: { path: known.path, others: beside.messages }, gap: beside.gap };
}

/**
 * The columns of the side-by-side answers of `answer` (on show): the versions of each
 * column among its siblings, with `picks` (column → message id) choosing what the
 * columns off the branch show. `null` when fewer than two columns are left.
 */
export function columnsOf(answer: Message, others: Message[], picks: Record<number, string> = {}): Column[] | null {
  const mark = sideBySide(answer);
  if (!mark) return null;
  const siblings = new Set(siblingsOf(answer));
  const byColumn = new Map<number, Message[]>();
  for (const item of [answer, ...others.filter((other) => other.id !== answer.id)]) {
    const place = sideBySide(item);
    if (!place || place.group !== mark.group || !siblings.has(item.id)) continue;
    byColumn.set(place.column, [...(byColumn.get(place.column) ?? []), item]);
  }
  if (byColumn.size < 2) return null;
  return [...byColumn.entries()]
    .sort(([a], [b]) => a - b)
    .map(([column, found]) => {
      const versions = [...found].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
      const current = column === mark.column;
      const picked = versions.find((item) => item.id === picks[column]);
      const shown = current ? answer : (picked ?? (versions[versions.length - 1] as Message));
      return { column, versions, shown, current };
    });
}

/** Where a column's shown version stands among its versions (as `branchPosition`). */
export function columnPosition(column: Column): { index: number; count: number; previous?: string; next?: string } {
  const ids = column.versions.map((item) => item.id);
  const index = Math.max(0, ids.indexOf(column.shown.id));
  return { index, count: ids.length, previous: ids[index - 1], next: ids[index + 1] };
}

/** Siblings of side-by-side answers on show that the thread has not read yet. */
export function unreadSiblings(known: Known): string[] {
  const have = new Set([...known.path, ...known.others].map((item) => item.id));
  const missing = known.path
    .filter((item) => item.role === 'assistant' && sideBySide(item))
    .flatMap((item) => siblingsOf(item).filter((id) => !have.has(id)));
  return [...new Set(missing)];
}
