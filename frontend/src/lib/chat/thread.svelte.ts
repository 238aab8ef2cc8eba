/**
 * One open chat: its branch on show (and the side-by-side answers beside it), kept
 * current from three sources — the answer streams this tab asked for (Server-Sent
 * Events), re-attached streams of answers already being written (after a reload, or
 * when chunks were missed), and the chat events other tabs cause (Socket.IO). The rules
 * for merging them are in ./thread.ts and ./columns.ts.
 */
import { ApiError } from '../api/client';
import { chatApi, type ChatDetail, type Message, type MessageCreate } from '../api/chat';
import type { Chat } from '../api/chat';
import {
  addOthers,
  applyChunkKnown,
  applyCreatedKnown,
  placeMessage,
  removeKnown,
  sideBySide,
  unreadSiblings,
  withPath,
  type Known,
} from './columns';
import { readEvents } from './sse';
import { applySnapshot, keepStreamedText, liveAnswers, type ChunkEvent } from './thread';

type Data = Record<string, unknown>;

function toError(error: unknown): ApiError {
  return error instanceof ApiError ? error : new ApiError({ title: 'Error', status: 0, detail: String(error) });
}

export class ChatThread {
  chat = $state.raw<ChatDetail | null>(null);
  messages = $state.raw<Message[]>([]);
  /** Side-by-side answers beside the branch on show (not on it). */
  others = $state.raw<Message[]>([]);
  loading = $state(false);
  error = $state<ApiError | null>(null);
  /** A send or regenerate was made and its answers are not placed yet. */
  sending = $state(false);
  /** Deleted in another tab (or this chat's owner deleted it elsewhere). */
  deleted = $state(false);

  /** The answers being written, on show or beside it. */
  live = $derived(liveAnswers([...this.messages, ...this.others]));
  streaming = $derived(this.sending || this.live.length > 0);

  /** Streams this tab reads, and the answers each one covers. */
  private readonly streams = new Map<AbortController, Set<string>>();
  /** Siblings being read, or read and found not side by side (not asked for again). */
  private readonly reading = new Set<string>();
  private closed = false;

  constructor(readonly chatId: string) {}

  /** A chat just created here: nothing to load. */
  static fresh(chat: Chat): ChatThread {
    const thread = new ChatThread(chat.id);
    thread.chat = { ...chat, system_prompt: '', params: {}, current_message_id: null, messages: [] };
    return thread;
  }

  async load(): Promise<void> {
    this.loading = true;
    this.error = null;
    try {
      this.show(await chatApi.get(this.chatId));
    } catch (error) {
      this.error = toError(error);
    } finally {
      this.loading = false;
    }
  }

  /** Read the chat again quietly (after a turn ends, or a change made elsewhere). */
  async refresh(): Promise<void> {
    try {
      this.show(await chatApi.get(this.chatId));
    } catch (error) {
      if (error instanceof ApiError && error.status === 404) this.deleted = true;
    }
  }

  private get known(): Known {
    return { path: this.messages, others: this.others };
  }

  private set known(known: Known) {
    this.messages = known.path;
    this.others = known.others;
  }

  private show(detail: ChatDetail): void {
    if (this.closed) return;
    this.chat = detail;
    this.known = withPath(this.known, keepStreamedText(detail.messages, [...this.messages, ...this.others]));
    this.attachToLive();
    void this.readSiblings();
  }

  /** Read the side-by-side answers beside the branch that this tab has not seen yet. */
  private async readSiblings(): Promise<void> {
    const ids = unreadSiblings(this.known).filter((id) => !this.reading.has(id));
    if (!ids.length) return;
    for (const id of ids) this.reading.add(id);
    const found = await Promise.all(ids.map((id) => chatApi.message(this.chatId, id).catch(() => null)));
    const answers = found.filter((item): item is Message => item !== null && sideBySide(item) !== null);
    // read again when their prompt comes back on show after a while away
    for (const answer of answers) this.reading.delete(answer.id);
    if (this.closed) return;
    this.known = addOthers(this.known, answers);
    this.attachToLive();
  }

  /** Re-attach to every answer on show (or beside it) being written that no stream of ours covers. */
  private attachToLive(): void {
    for (const answer of liveAnswers([...this.messages, ...this.others])) {
      if (!this.covered(answer.id)) void this.follow(answer.id);
    }
  }

  private covered(messageId: string): boolean {
    for (const ids of this.streams.values()) if (ids.has(messageId)) return true;
    return false;
  }

  /** Send a message; resolves once the server committed it (the answer streams on). */
  send(body: MessageCreate): Promise<void> {
    return this.turn((signal) => chatApi.send(this.chatId, body, signal));
  }

  /** Edit a user message: a new branch beside it. */
  edit(message: Message, content: string): Promise<void> {
    return this.send({ content, parent_id: message.parent_id });
  }

  /** Another answer beside `message` (by `model`, else by the same model). */
  regenerate(message: Message, model?: string): Promise<void> {
    return this.turn((signal) => chatApi.regenerate(this.chatId, message.id, model, signal));
  }

  /** Stop every answer being written. */
  async stop(): Promise<void> {
    await Promise.all(this.live.map((answer) => this.stopAnswer(answer)));
  }

  /** Stop one answer (the text so far is kept). */
  async stopAnswer(answer: Message): Promise<void> {
    try {
      const final = await chatApi.stop(this.chatId, answer.id);
      if (final.status !== 'streaming') this.known = placeMessage(this.known, final, false);
    } catch (error) {
      // it ended on its own meanwhile: the stream brings its final state
      if (!(error instanceof ApiError && error.code === 'message_not_streaming')) throw error;
    }
  }

  async switchTo(messageId: string): Promise<void> {
    this.show(await chatApi.switchBranch(this.chatId, messageId));
  }

  async deleteMessage(message: Message): Promise<void> {
    const detail = await chatApi.deleteMessage(this.chatId, message.id);
    this.known = removeKnown(this.known, [message.id]);
    this.show(detail);
  }

  /** Apply a chat's new fields (renamed, re-tagged, another model). */
  updateChat(chat: Chat): void {
    if (this.chat && chat.id === this.chatId) this.chat = { ...this.chat, ...chat };
  }

  /** A Socket.IO chat event (`chat.*`); those of other chats are ignored. */
  onEvent(topic: string, data: Data): void {
    if (this.closed) return;
    if (topic === 'chat.updated' || topic === 'chat.created') {
      this.updateChat(data.chat as Chat);
      return;
    }
    if (topic === 'chat.deleted') {
      if (data.chat_id === this.chatId) this.deleted = true;
      return;
    }
    if (data.chat_id !== this.chatId) return;
    switch (topic) {
      case 'chat.message_created':
        this.known = placeMessage(this.known, data.message as Message, true);
        break;
      case 'chat.message_updated':
        this.known = placeMessage(this.known, data.message as Message, false);
        break;
      case 'chat.message_chunk':
        this.chunk(data as unknown as ChunkEvent);
        break;
      case 'chat.message_deleted':
        this.known = removeKnown(this.known, (data.message_ids as string[]) ?? []);
        void this.refresh();
        break;
    }
  }

  private chunk(chunk: ChunkEvent): void {
    const { known, gap } = applyChunkKnown(this.known, chunk);
    this.known = known;
    if (gap && !this.covered(chunk.message_id)) void this.follow(chunk.message_id);
  }

  /** Re-attach to one answer: its text so far, then each new chunk. */
  private async follow(messageId: string): Promise<void> {
    await this.read(new Set([messageId]), (signal) => chatApi.follow(this.chatId, messageId, signal));
  }

  private turn(start: (signal: AbortSignal) => Promise<Response>): Promise<void> {
    this.sending = true;
    return new Promise<void>((accepted, refused) => {
      const covers = new Set<string>();
      const onCreated = () => {
        this.sending = false;
        accepted();
      };
      this.read(covers, start, onCreated)
        .then(() => {
          if (this.sending) onCreated(); // a stream without `created`: nothing to wait for
          if (!this.closed && !this.streams.size) void this.refresh();
        })
        .catch((error: unknown) => {
          this.sending = false;
          refused(toError(error));
        });
    });
  }

  /**
   * Read one stream until it ends. A stream cut short (network, server restart) leaves
   * answers marked as being written: re-attach to them after a pause.
   */
  private async read(
    covers: Set<string>,
    start: (signal: AbortSignal) => Promise<Response>,
    onCreated?: () => void,
  ): Promise<void> {
    const controller = new AbortController();
    this.streams.set(controller, covers);
    let ended = false;
    try {
      const response = await start(controller.signal);
      for await (const event of readEvents(response)) {
        if (this.closed) break;
        const data = JSON.parse(event.data) as Data;
        if (event.event === 'created') {
          const answers = data.answers as Message[];
          for (const answer of answers) covers.add(answer.id);
          this.known = applyCreatedKnown(this.known, data.message as Message | null, answers);
          onCreated?.();
        } else if (event.event === 'message') {
          const snapshot = data.message as Message;
          this.known = { path: applySnapshot(this.messages, snapshot), others: applySnapshot(this.others, snapshot) };
        } else if (event.event === 'chunk') {
          this.chunk(data as unknown as ChunkEvent);
        } else if (event.event === 'done') {
          this.known = placeMessage(this.known, data.message as Message, false);
        } else if (event.event === 'end') {
          ended = true;
        }
      }
    } catch (error) {
      if (controller.signal.aborted || this.closed) return;
      if (!covers.size) throw error; // refused before anything was committed
    } finally {
      this.streams.delete(controller);
    }
    if (!ended && !this.closed && covers.size) {
      setTimeout(() => !this.closed && this.attachToLive(), 1000);
    }
  }

  /** Stop listening (the server goes on writing; coming back re-attaches). */
  close(): void {
    this.closed = true;
    for (const controller of this.streams.keys()) controller.abort();
    this.streams.clear();
  }
}
