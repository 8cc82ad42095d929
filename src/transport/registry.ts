// Every kind of upstream, by the config key its routes are written under. A new kind is one file exporting an
// AdapterDefinition plus one line here. The outbox numbers routes in this order, then in config order: append new
// kinds at the end, so the routes of the existing ones keep their place in the store.
import type { AdapterDefinition } from './adapter.ts';
import { coapAdapter } from './coap.ts';
import { httpAdapter } from './http.ts';
import { mqttAdapter } from './mqtt.ts';
import { natsAdapter } from './nats.ts';

const ADAPTERS = new Map<string, AdapterDefinition<never>>([
  ['mqtt', mqttAdapter],
  ['http', httpAdapter],
  ['nats', natsAdapter],
  ['coap', coapAdapter],
]);

/** Registers a kind of upstream (a plugin's, at start-up, before the config is loaded). */
export function registerAdapter(kind: string, definition: AdapterDefinition<never>): void {
  if (!/^[a-z][a-z0-9_]*$/.test(kind)) throw new TypeError(`adapter kind ${JSON.stringify(kind)}: use lower-case letters, digits and _`);
  if (ADAPTERS.has(kind)) throw new TypeError(`adapter kind ${kind} is already registered`);
  ADAPTERS.set(kind, definition);
}

/** The registered kinds, in route order. */
export function adapterKinds(): [kind: string, definition: AdapterDefinition][] {
  return [...ADAPTERS] as [string, AdapterDefinition][];
}
