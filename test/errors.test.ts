// The error catalogue and its documentation agree: every code in src/errors.ts is documented in docs/errors.md with
// its HTTP status, nothing else is documented there, and no code is written as a string literal outside the
// catalogue (each goes through errorCode() or EdgeloopError).
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { ERRORS, errorCode, type ErrorName } from '../src/errors.ts';

const DOC = new URL('../docs/errors.md', import.meta.url);

/** `### EDGELOOP_ERR_X` sections with the `HTTP status:` they state. */
async function documented(): Promise<Map<string, number | undefined>> {
  const text = await readFile(DOC, 'utf8');
  const out = new Map<string, number | undefined>();
  for (const section of text.split(/^### /m).slice(1)) {
    const code = section.split('\n')[0]!.trim();
    const status = /\*\*HTTP status:\*\* (\d{3})/.exec(section)?.[1];
    assert.ok(!out.has(code), `${code} documented twice`);
    out.set(code, status === undefined ? undefined : Number(status));
  }
  return out;
}

test('every catalogue code is documented with its HTTP status, and nothing stale is', async () => {
  const docs = await documented();
  const codes = (Object.keys(ERRORS) as ErrorName[]).map((name) => errorCode(name));
  assert.deepEqual([...docs.keys()].filter((c) => !codes.includes(c as never)), [], 'documented but not in the catalogue');
  assert.deepEqual(codes.filter((c) => !docs.has(c)), [], 'in the catalogue but not documented');
  for (const name of Object.keys(ERRORS) as ErrorName[]) {
    assert.equal(docs.get(errorCode(name)), ERRORS[name].status, `HTTP status of ${errorCode(name)}`);
  }
});

test('every documented code says what it means, when it happens and what to do', async () => {
  const text = await readFile(DOC, 'utf8');
  for (const section of text.split(/^### /m).slice(1)) {
    const code = section.split('\n')[0]!.trim();
    for (const field of ['**Means:**', '**When:**', '**Do:**']) assert.ok(section.includes(field), `${code} lacks ${field}`);
  }
});

test('no error code is written as a string literal outside the catalogue', async () => {
  const root = new URL('../src/', import.meta.url).pathname;
  const files = (await readdir(root, { recursive: true })).filter((f) => f.endsWith('.ts') && f !== 'errors.ts');
  const found: string[] = [];
  for (const f of files) {
    const text = await readFile(join(root, f), 'utf8');
    for (const m of text.matchAll(/['"`]EDGELOOP_ERR_[A-Z_]+['"`]/g)) found.push(`${f}: ${m[0]}`);
  }
  assert.deepEqual(found, []);
});
