// The configuration `edgeloop run` uses when no file is given: 16 simulated channels, the embedded broker and the
// API on :8080, so a fresh install shows data at once.
const signals = ['sine', 'random-walk', 'noise'] as const;

export const DEMO_CONFIG = {
  device: { id: 'edgeloop-demo' },
  sensors: Array.from({ length: 16 }, (_, i) => ({
    id: `sim${String(i + 1).padStart(2, '0')}`,
    driver: 'simulated',
    interval_ms: 50,
    unit: 'celsius',
    signal: signals[i % signals.length],
    seed: i + 1,
    offset: 20 + i,
    amplitude: 5,
    period_ms: 10_000 + 1000 * i,
  })),
};
