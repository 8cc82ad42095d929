// The page: header with the panels' tabs, connection state and theme; the panel chosen by the URL's #fragment.
import { useEffect, useState } from 'preact/hooks';
import { clock, duration } from './format.ts';
import { Login } from './login.tsx';
import { Cameras } from './panels/cameras.tsx';
import { Models } from './panels/models.tsx';
import { Overview } from './panels/overview.tsx';
import { Sensors } from './panels/sensors.tsx';
import { STATUS_POLL_MS, hasFeature, logout, setPollInterval, useStore } from './store.ts';
import { applyTheme, onSystemThemeChange, themeChoice, type ThemeChoice } from './theme.ts';

const PANELS = [
  { id: 'overview', title: 'Overview' },
  { id: 'sensors', title: 'Sensors' },
  { id: 'cameras', title: 'Cameras', feature: 'cameras' },
  { id: 'models', title: 'Models', feature: 'models' },
] as const;
const NEXT_THEME: Record<ThemeChoice, ThemeChoice> = { auto: 'light', light: 'dark', dark: 'auto' };
/** Status older than this many polls is shown as stale. */
const STALE_POLLS = 3;

function useNow(ms: number): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), ms);
    return () => clearInterval(t);
  }, [ms]);
  return now;
}

function useHash(): string {
  const [hash, setHash] = useState(location.hash.slice(1));
  useEffect(() => {
    const l = () => setHash(location.hash.slice(1));
    addEventListener('hashchange', l);
    return () => removeEventListener('hashchange', l);
  }, []);
  return hash;
}

export function App() {
  const s = useStore();
  const now = useNow(1000);
  const hash = useHash();
  const [choice, setChoice] = useState(themeChoice);
  const [theme, setTheme] = useState(() => applyTheme(themeChoice()));
  useEffect(() => onSystemThemeChange(() => setTheme(applyTheme(themeChoice()))), []);
  const panels = PANELS.filter((p) => !('feature' in p) || hasFeature(p.feature));
  const panel = panels.find((p) => p.id === hash) ?? panels[0];
  useEffect(() => setPollInterval(panel?.id === 'overview' ? STATUS_POLL_MS.overview : STATUS_POLL_MS.other), [panel?.id]);
  const offline = s.live.kind !== 'open';
  const stale = offline || now - s.statusAt > STALE_POLLS * s.pollMs;
  const cycleTheme = () => {
    const next = NEXT_THEME[choice];
    setChoice(next);
    setTheme(applyTheme(next));
  };
  return (
    <>
      <header>
        <div class="brand">
          <b>edgeloop</b>
          <span class="muted">{s.status?.device ?? ''}</span>
        </div>
        {!s.login && (
          <nav>
            {panels.map((p) => (
              <a key={p.id} href={`#${p.id}`} class={p.id === panel?.id ? 'active' : ''} aria-current={p.id === panel?.id ? 'page' : undefined}>{p.title}</a>
            ))}
          </nav>
        )}
        <div class="tools">
          {!s.login && <Connection now={now} />}
          <button type="button" class="ghost" onClick={cycleTheme} title="Theme: auto → light → dark" aria-label={`theme: ${choice}`}>
            {choice === 'auto' ? '◐' : choice === 'light' ? '☀' : '☾'}
          </button>
          {s.boot.auth && !s.login && <button type="button" class="ghost" onClick={logout}>Sign out</button>}
        </div>
      </header>
      <main>
        {s.login ? <Login /> : (
          <>
            {stale && s.statusAt > 0 && (
              <p class="banner" role="status">Showing data from {clock(s.statusAt)}: {offline ? 'the gateway is unreachable, reconnecting…' : 'waiting for fresh figures…'}</p>
            )}
            {panel?.id === 'overview' && <Overview now={now} stale={stale} />}
            {panel?.id === 'sensors' && <Sensors now={now} offline={offline} theme={theme} />}
            {panel?.id === 'cameras' && <Cameras stale={stale} />}
            {panel?.id === 'models' && <Models stale={stale} />}
          </>
        )}
      </main>
    </>
  );
}

function Connection({ now }: { now: number }) {
  const { live } = useStore();
  if (live.kind === 'open') return <span class="conn good" id="conn" title={`live since ${clock(live.since)}`}>● live</span>;
  if (live.kind === 'connecting') return <span class="conn mid" id="conn">● connecting…</span>;
  return <span class="conn bad" id="conn">● offline, retry in {duration(Math.max(0, (live.retryAt - now) / 1000))}</span>;
}
