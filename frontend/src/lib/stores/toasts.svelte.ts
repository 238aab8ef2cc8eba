/** Short notices after an action: "User approved", or the problem's message. */
import { messageOf } from '../api/client';

export interface ToastAction {
  label: string;
  run: () => void;
}

export interface Toast {
  id: number;
  kind: 'success' | 'error';
  message: string;
  action?: ToastAction;
}

class Toasts {
  items = $state<Toast[]>([]);
  private next = 1;

  show(kind: Toast['kind'], message: string, ms = kind === 'error' ? 8000 : 4000, action?: ToastAction): number {
    const toast = { id: this.next++, kind, message, action };
    this.items = [...this.items, toast];
    setTimeout(() => this.dismiss(toast.id), ms);
    return toast.id;
  }

  /** A notice with one button (e.g. "Undo"); pressing it runs the action and closes it. */
  withAction(message: string, action: ToastAction, ms = 6000): number {
    return this.show('success', message, ms, action);
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
