/**
 * The branch of a chat on show, and how events change it — pure functions, so the same
 * rules serve the tab that sent a message (its SSE stream), other tabs (Socket.IO
 * events) and a tab that re-attaches after a reload. Chunks carry a `seq`: one that
 * is already in the text is skipped, one after a gap asks for a re-attach.
 */
import type { Message } from '../api/chat';

export interface ChunkEvent {
  message_id: string;
  seq: number;
  content: string;
}

export function isLive(message: Pick<Message, 'status'>): boolean {
  return message.status === 'streaming';
}

/** `message` with what we already know kept: newer text, the sibling list. */
function merged(known: Message, incoming: Message): Message {
  const siblings = incoming.sibling_ids ?? known.sibling_ids;
  // a streaming copy older than what we have (a checkpoint) must not roll the text back
  if (isLive(incoming) && incoming.seq < known.seq) {
    return { ...incoming, content: known.content, seq: known.seq, sibling_ids: siblings };
  }
  return { ...incoming, sibling_ids: siblings };
}

/** The message and its siblings, oldest first (itself alone when the list is not known). */
export function siblingsOf(message: Message): string[] {
  return message.sibling_ids?.length ? message.sibling_ids : [message.id];
}

/**
 * Put `message` into the branch: update it where it is, append it under the last
 * message, or start a new branch beside its parent's child on show. An answer that
 * appears beside another answer still being written (several models answering one
 * message) joins the sibling list without taking the other's place. A message whose
 * parent is not on show changes nothing.
 */
export function upsertMessage(messages: Message[], message: Message): Message[] {
  const at = messages.findIndex((item) => item.id === message.id);
  if (at >= 0) return messages.map((item, i) => (i === at ? merged(item, message) : item));
  const parentAt = message.parent_id === null ? -1 : messages.findIndex((item) => item.id === message.parent_id);
  if (message.parent_id !== null && parentAt < 0) return messages;
  const shown = messages[parentAt + 1];
  if (!shown) return [...messages, { ...message, sibling_ids: message.sibling_ids ?? [message.id] }];
  const siblings = [...siblingsOf(shown).filter((id) => id !== message.id), message.id];
  if (isLive(shown) && shown.role === 'assistant' && message.role === 'assistant') {
    return messages.map((item, i) => (i === parentAt + 1 ? { ...item, sibling_ids: siblings } : item));
  }
  return [...messages.slice(0, parentAt + 1), { ...message, sibling_ids: siblings }];
}

/** What a send or regenerate committed: the user's message and the answers' placeholders. */
export function applyCreated(messages: Message[], prompt: Message | null, answers: Message[]): Message[] {
  let next = prompt ? upsertMessage(messages, prompt) : messages;
  for (const answer of answers) next = upsertMessage(next, answer);
  return next;
}

/** Add a chunk to its answer. `gap` is true when chunks were missed (re-attach to catch up). */
export function applyChunk(messages: Message[], chunk: ChunkEvent): { messages: Message[]; gap: boolean } {
  const at = messages.findIndex((item) => item.id === chunk.message_id);
  const target = messages[at];
  if (!target || !isLive(target) || chunk.seq <= target.seq) return { messages, gap: false };
  if (chunk.seq > target.seq + 1) return { messages, gap: true };
  const updated = { ...target, content: target.content + chunk.content, seq: chunk.seq };
  return { messages: messages.map((item, i) => (i === at ? updated : item)), gap: false };
}

/** Re-attached: the answer as it stands on the server (its text up to `seq`). */
export function applySnapshot(messages: Message[], message: Message): Message[] {
  return messages.map((item) => {
    if (item.id !== message.id || message.seq < item.seq) return item;
    return { ...item, ...message, sibling_ids: item.sibling_ids };
  });
}

/**
 * The branch as the server sent it, keeping text this tab already streamed past the
 * server's last checkpoint (for answers still being written).
 */
export function keepStreamedText(fresh: Message[], known: Message[]): Message[] {
  const byId = new Map(known.map((item) => [item.id, item]));
  return fresh.map((item) => {
    const mine = byId.get(item.id);
    if (!mine || !isLive(item) || mine.seq <= item.seq) return item;
    return { ...item, content: mine.content, seq: mine.seq };
  });
}

/** Messages deleted elsewhere: the branch on show ends above the first of them. */
export function removeMessages(messages: Message[], ids: string[]): Message[] {
  const gone = new Set(ids);
  const first = messages.findIndex((item) => gone.has(item.id));
  const kept = first < 0 ? messages : messages.slice(0, first);
  return kept.map((item) =>
    item.sibling_ids?.some((id) => gone.has(id))
      ? { ...item, sibling_ids: item.sibling_ids.filter((id) => !gone.has(id)) }
      : item,
  );
}

/** Where a message stands among its siblings: `{index: 1, count: 3}` reads "2/3". */
export function branchPosition(message: Message): { index: number; count: number; previous?: string; next?: string } {
  const siblings = siblingsOf(message);
  const index = Math.max(0, siblings.indexOf(message.id));
  return { index, count: siblings.length, previous: siblings[index - 1], next: siblings[index + 1] };
}

/** The answers still being written. */
export function liveAnswers(messages: Message[]): Message[] {
  return messages.filter((item) => item.role === 'assistant' && isLive(item));
}
