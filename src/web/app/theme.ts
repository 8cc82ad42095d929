// Light, dark or as the system says. The choice (not a secret) is remembered in localStorage.
const KEY = 'edgeloop-theme';
export type ThemeChoice = 'auto' | 'light' | 'dark';
const dark = matchMedia('(prefers-color-scheme: dark)');

export function themeChoice(): ThemeChoice {
  const v = localStorage.getItem(KEY);
  return v === 'light' || v === 'dark' ? v : 'auto';
}

/** The theme in force: sets `data-theme` on <html> and returns it. */
export function applyTheme(choice: ThemeChoice): 'light' | 'dark' {
  if (choice === 'auto') localStorage.removeItem(KEY);
  else localStorage.setItem(KEY, choice);
  const theme = choice === 'auto' ? (dark.matches ? 'dark' : 'light') : choice;
  document.documentElement.dataset.theme = theme;
  return theme;
}

export function onSystemThemeChange(listener: () => void): void {
  dark.addEventListener('change', listener);
}
