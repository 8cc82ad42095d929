// Loads LiteRT.js (TFLite's WASM runtime with XNNPACK) into Node. The package targets browsers: it loads its
// Emscripten script with importScripts() and reads `self`, so we provide those two, running the script as the
// CommonJS module it is (its package is "type": "module", so a plain require() would treat it as ESM).
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import vm from 'node:vm';
import type * as LiteRt from '@litertjs/core';
import { EdgeloopError, messageOf } from '../../errors.ts';

export type LiteRtModule = typeof LiteRt;

interface LiteRtGlobals {
  self?: unknown;
  importScripts?: (url: string) => void;
  ModuleFactory?: unknown;
  Module?: unknown;
}

const require = createRequire(import.meta.url);
let runtime: Promise<LiteRtModule> | undefined;

/** Runs an Emscripten UMD script with CommonJS bindings and returns what it exports. */
export function runCommonJsScript(file: string): unknown {
  const wrapper = vm.runInThisContext(`(function (exports, require, module, __filename, __dirname) {${readFileSync(file, 'utf8')}\n})`, {
    filename: file,
  }) as (exports: object, require: NodeJS.Require, module: { exports: object }, filename: string, dirname: string) => void;
  const mod = { exports: {} };
  wrapper(mod.exports, createRequire(file), mod, file, path.dirname(file));
  return mod.exports;
}

// The runtime logs every model compile at INFO level and that it has no NPU here; keep the other warnings.
function printErr(line: string): void {
  if (!/^(INFO|VERBOSE|DEBUG):/.test(line) && !line.includes('NPU accelerator')) process.stderr.write(`[litert] ${line}\n`);
}

async function load(): Promise<LiteRtModule> {
  let lrt: LiteRtModule;
  let wasmDir: string;
  try {
    lrt = await import('@litertjs/core');
    wasmDir = path.join(path.dirname(require.resolve('@litertjs/core')), '..', 'wasm');
  } catch (err) {
    throw new EdgeloopError('ENGINE_UNAVAILABLE', `@litertjs/core cannot be loaded: ${messageOf(err)}`, { cause: err });
  }
  const g = globalThis as LiteRtGlobals;
  g.self ??= globalThis;
  g.importScripts = (url: string) => {
    g.ModuleFactory = runCommonJsScript(url);
    g.Module = { print: printErr, printErr };
  };
  // Node has no WebGPU: the runtime's attempt to open a device is expected to fail, so its warning is noise.
  const warn = console.warn;
  console.warn = (...args: unknown[]) => {
    if (!String(args[0]).startsWith('Failed to create default WebGPU device')) warn(...args);
  };
  try {
    await lrt.loadLiteRt(path.join(wasmDir, 'litert_wasm_internal.js'));
  } catch (err) {
    throw new EdgeloopError('ENGINE_UNAVAILABLE', `the LiteRT.js WASM runtime failed to start: ${messageOf(err)}`, { cause: err });
  } finally {
    console.warn = warn;
    delete g.importScripts;
  }
  return lrt;
}

/** The process-wide LiteRT.js runtime (it is a global singleton by design), started on first use. */
export function liteRtRuntime(): Promise<LiteRtModule> {
  runtime ??= load().catch((err: unknown) => {
    runtime = undefined;
    throw err;
  });
  return runtime;
}
