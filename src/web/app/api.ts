// Requests to the gateway's REST API, relative to the page (see base.ts). The token lives in this module's memory
// only: never in a URL, a cookie or web storage, so it is gone when the tab is closed or reloaded.
import { basePath } from './base.ts';

let token: string | undefined;
let onUnauthorized: () => void = () => {};

export function setToken(t: string | undefined): void {
  token = t;
}

export function getToken(): string | undefined {
  return token;
}

/** Called whenever the gateway answers 401: the page shows the login form again. */
export function whenUnauthorized(handler: () => void): void {
  onUnauthorized = handler;
}

export class HttpError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

export const apiUrl = (path: string): string => `${basePath(location.pathname)}${path}`;

async function request(path: string, init: RequestInit = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  if (token !== undefined) headers.set('authorization', `Bearer ${token}`);
  const res = await fetch(apiUrl(path), { ...init, headers, cache: 'no-store', credentials: 'omit', redirect: 'error' });
  if (res.ok) return res;
  let message = `${res.status} ${res.statusText}`;
  try {
    const body = (await res.json()) as { message?: string; hint?: string };
    if (body.message) message = body.hint ? `${body.message} (${body.hint})` : body.message;
  } catch {
    // not a JSON error body: keep the status line
  }
  if (res.status === 401) onUnauthorized();
  throw new HttpError(res.status, message);
}

export async function getJson<T>(path: string): Promise<T> {
  return (await (await request(path)).json()) as T;
}

export async function postJson<T>(path: string, body: unknown): Promise<T> {
  const res = await request(path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return (await res.json()) as T;
}

/** An image the API serves, as an object URL (an <img src> could not carry the token). Revoke it when done. */
export async function getImageUrl(path: string): Promise<string> {
  return URL.createObjectURL(await (await request(path)).blob());
}

/** Checks a token without keeping it: true if the gateway accepts it. */
export async function tryToken(candidate: string): Promise<boolean> {
  const res = await fetch(apiUrl('api/v1/status'), {
    headers: { authorization: `Bearer ${candidate}` }, cache: 'no-store', credentials: 'omit', redirect: 'error',
  });
  if (res.status === 401) return false;
  if (!res.ok) throw new HttpError(res.status, `${res.status} ${res.statusText}`);
  return true;
}
