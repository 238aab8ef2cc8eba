/**
 * The real-time connection: Socket.IO at /socket.io, authenticated by the session
 * cookie. Each event arrives with name = topic and payload {id, topic, data}.
 */
import { io, type Socket } from 'socket.io-client';
import type { BusEvent } from './runs/model';

type Listener = (event: BusEvent) => void;

class Live {
  connected = $state(false);
  private socket: Socket | null = null;
  private listeners = new Map<string, Set<Listener>>();

  connect(): void {
    if (this.socket) return;
    const socket = io({
      path: '/socket.io',
      withCredentials: true,
      transports: ['websocket', 'polling'],
      reconnectionDelayMax: 15_000,
    });
    socket.on('connect', () => (this.connected = true));
    socket.on('disconnect', (reason) => {
      this.connected = false;
      // the server ended it (its session did): no automatic reconnection; forget it
      // so that connect() after signing in again opens a new one
      if (reason === 'io server disconnect' && this.socket === socket) this.socket = null;
    });
    socket.onAny((topic: string, payload: unknown) => this.dispatch(topic, payload));
    this.socket = socket;
  }

  disconnect(): void {
    this.socket?.disconnect();
    this.socket = null;
    this.connected = false;
  }

  /** Listen to events whose topic starts with `prefix` (`run.` for every run event). */
  subscribe(prefix: string, listener: Listener): () => void {
    const set = this.listeners.get(prefix) ?? new Set();
    set.add(listener);
    this.listeners.set(prefix, set);
    return () => set.delete(listener);
  }

  dispatch(topic: string, payload: unknown): void {
    const body = (payload ?? {}) as Partial<BusEvent>;
    const event: BusEvent = { id: body.id, topic: body.topic ?? topic, data: body.data ?? {} };
    for (const [prefix, set] of this.listeners) {
      if (!event.topic.startsWith(prefix)) continue;
      for (const listener of set) listener(event);
    }
  }
}

export const live = new Live();
