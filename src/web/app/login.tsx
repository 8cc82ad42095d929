// The login form, shown when the gateway has `api.token` set and the page holds no accepted token.
import { useState } from 'preact/hooks';
import { login, state, useStore } from './store.ts';

export function Login() {
  const { loginError } = useStore();
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    const input = (e.currentTarget as HTMLFormElement).elements.namedItem('token') as HTMLInputElement;
    setBusy(true);
    await login(input.value);
    setBusy(false);
    if (state.login) input.select();
  };
  return (
    <form class="card login" onSubmit={(e) => void submit(e)} autocomplete="on">
      <h2>Sign in</h2>
      <p class="muted">This gateway asks for its API token (<code>api.token</code>). It is kept in this tab only, until you close or reload it.</p>
      {/* A username field lets password managers remember the token per gateway. */}
      <input type="text" name="username" autocomplete="username" value="edgeloop" hidden readOnly />
      <label>
        API token
        <input type="password" name="token" id="token" autocomplete="current-password" required autofocus />
      </label>
      {loginError && <p class="error" role="alert">{loginError}</p>}
      <button type="submit" disabled={busy}>{busy ? 'Checking…' : 'Sign in'}</button>
    </form>
  );
}
