/** Short notices after an action: "User approved", or the problem's message. */
import { messageOf } from '../api/client';

export interface Toast {
  id: number;
  kind: 'success' | 'error';
  message: string;
}

class Toasts {
  items = $state<Toast[]>([]);
  private next = 1;

  show(kind: Toast['kind'], message: string, ms = kind === 'error' ? 8000 : 4000): void {
    const toast = { id: this.next++, kind, message };
    this.items = [...this.items, toast];
    setTimeout(() => this.dismiss(toast.id), ms);
  }

  success(message: string): void {
    this.show('success', message);
  }

  error(error: unknown): void {
    this.show('error', messageOf(error));
  }

  dismiss(id: number): void {
    this.items = this.items.filter((toast) => toast.id !== id);
  }
}

export const toasts = new Toasts();
