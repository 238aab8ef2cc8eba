/** Light, dark or follow the system; remembered in localStorage. */

export type ThemeChoice = 'light' | 'dark' | 'system';
export const THEME_KEY = 'notewell.theme';
const CHOICES: ThemeChoice[] = ['light', 'dark', 'system'];

function saved(): ThemeChoice {
  try {
    const value = localStorage.getItem(THEME_KEY);
    return CHOICES.includes(value as ThemeChoice) ? (value as ThemeChoice) : 'system';
  } catch {
    return 'system';
  }
}

function systemPrefersDark(): boolean {
  return typeof matchMedia === 'function' && matchMedia('(prefers-color-scheme: dark)').matches;
}

class Theme {
  choice = $state<ThemeChoice>('system');
  systemDark = $state(false);
  dark = $derived(this.choice === 'dark' || (this.choice === 'system' && this.systemDark));

  constructor() {
    if (typeof window === 'undefined') return;
    this.choice = saved();
    this.systemDark = systemPrefersDark();
    if (typeof matchMedia === 'function') {
      matchMedia('(prefers-color-scheme: dark)').addEventListener?.('change', (event) => {
        this.systemDark = event.matches;
        this.apply();
      });
    }
    this.apply();
  }

  set(choice: ThemeChoice): void {
    this.choice = choice;
    try {
      localStorage.setItem(THEME_KEY, choice);
    } catch {
      // private mode: the choice lasts for this page only
    }
    this.apply();
  }

  /** light → dark → system → light */
  cycle(): void {
    const next = CHOICES[(CHOICES.indexOf(this.choice) + 1) % CHOICES.length] as ThemeChoice;
    this.set(next);
  }

  apply(): void {
    document.documentElement.classList.toggle('dark', this.dark);
  }
}

export const theme = new Theme();
