// An example edgeloop plugin: a sensor driver `http-json` that reads a number out of a JSON document served over
// HTTP, as smart plugs, ESPHome and Tasmota devices, and most home-made sensors do (`GET /status` →
// `{"meters":[{"power":12.5}]}`). Copy it into your `plugins_dir`; docs/plugins.md explains the contract.
//
//   sensors:
//     - id: plug_power
//       driver: http-json
//       url: http://192.168.1.40/status
//       path: meters.0.power
//       interval_ms: 5000
//       unit: W

/** The factory: called once at start with the plugin API; returns what the plugin provides. */
export default function httpJsonPlugin({ Type, EdgeloopError }) {
  const options = Type.Object(
    {
      url: Type.String({ pattern: '^https?://' }),
      /** Where the number is: keys and array indexes joined by dots; empty for a document that is just a number. */
      path: Type.String({ default: '' }),
      /** Sent with every request, e.g. an `authorization` header. */
      headers: Type.Record(Type.String(), Type.String(), { default: {} }),
    },
    { additionalProperties: false },
  );

  function check(o) {
    return o.path.split('.').some((step, i, all) => step === '' && all.length > 1)
      ? [{ key: 'path', message: 'has an empty step: write keys and indexes joined by single dots, e.g. meters.0.power' }]
      : [];
  }

  function create(o) {
    const steps = o.path === '' ? [] : o.path.split('.');
    return {
      async read(signal) {
        if (signal.aborted) throw new EdgeloopError('SENSOR_TIMEOUT', `GET ${o.url} was aborted before it was sent`);
        let res;
        try {
          res = await globalThis.fetch(o.url, { headers: o.headers, signal });
        } catch (cause) {
          const code = signal.aborted ? 'SENSOR_TIMEOUT' : 'SENSOR_READ';
          throw new EdgeloopError(code, `GET ${o.url} failed: ${cause.message}`, { cause });
        }
        if (!res.ok) throw new EdgeloopError('SENSOR_READ', `GET ${o.url} answered ${res.status}`);
        let value = await res.json().catch(() => {
          throw new EdgeloopError('SENSOR_READ', `GET ${o.url} did not answer JSON`);
        });
        for (const step of steps) value = value?.[Array.isArray(value) ? Number(step) : step];
        const number = typeof value === 'string' ? Number(value) : value;
        if (typeof number !== 'number' || !Number.isFinite(number)) {
          throw new EdgeloopError('SENSOR_READ', `GET ${o.url}: ${o.path || 'the document'} is not a number (${JSON.stringify(value)})`);
        }
        return number;
      },
      // Nothing held between reads.
      close: async () => {},
    };
  }

  return { drivers: { 'http-json': { options, check, create } } };
}
