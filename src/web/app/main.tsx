// Entry point: reads the boot data the gateway put in the page and starts.
import { render } from 'preact';
import { App } from './app.tsx';
import { start, type Boot } from './store.ts';

const boot = JSON.parse(document.getElementById('boot')?.textContent ?? '{}') as Partial<Boot>;
start({ auth: boot.auth === true, features: Array.isArray(boot.features) ? boot.features : [] });
render(<App />, document.getElementById('app') as HTMLElement);
