// The inference worker pool with a scripted engine: regions and boxes, fair share between cameras, bounded
// queue, budget, stale requests, the watchdog replacing a hung worker, hot swap under load, rollback, disposal.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { after, before, describe, it } from 'node:test';
import { Registry } from 'prom-client';
import { isEdgeloopError } from '../../src/errors.ts';
import { registerPoolMetrics } from '../../src/inference/pool/metrics.ts';
import { InferencePool, InferenceSkipped } from '../../src/inference/pool/pool.ts';
import type { DetectRequest, DetectResult, InferenceObservation, PoolOptions } from '../../src/inference/pool/pool.ts';
import type { SkipReason } from '../../src/inference/pool/scheduler.ts';
import { frameBytes } from '../../src/inference/preprocess.ts';
import type { Frame } from '../../src/inference/preprocess.ts';
import { SCRIPTED_ENGINE, scriptedModel } from '../support/scripted-engine.ts';

const PERSON = { box: [0.5, 0.5, 1, 1] as [number, number, number, number], class: 0, score: 0.9 };
const CAR = { box: [0, 0, 0.5, 0.5] as [number, number, number, number], class: 1, score: 0.8 };

function grey(width = 64, height = 48, value = 128): Frame {
  return { width, height, format: 'rgb24', data: new Uint8Array(frameBytes(width, height)).fill(value) };
}

/** A frame the scripted models are told to hang on. */
const white = () => grey(64, 48, 255);

function pool(options: PoolOptions = {}): InferencePool {
  const p = new InferencePool({ workers: 1, engine_modules: [SCRIPTED_ENGINE], ...options });
  after(() => p.close());
  return p;
}

async function skipReason(promise: Promise<unknown>): Promise<SkipReason> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof InferenceSkipped, `expected a skip, got ${String(err)}`);
    assert.equal(err.code, 'EDGELOOP_ERR_INFERENCE_SKIPPED');
    return err.reason;
  }
  assert.fail('the request ran');
}

const request = (camera: string, over: Partial<DetectRequest> = {}): DetectRequest => ({ camera, model: 'm', frame: grey(), ...over });

describe('inference pool: requests', () => {
  const p = pool({ workers: 2 });
  before(() => p.load('m', scriptedModel('pool-basic', { detections: [PERSON, CAR] })));

  it('runs the whole frame, and regions mapped back to frame fractions, merging what regions see twice', async () => {
    const whole = await p.detect(request('a'));
    assert.deepEqual(whole.model, { name: 'pool-basic', version: 0, label: '1' });
    assert.equal(whole.runs, 1);
    const person = whole.detections.find((d) => d.label === 'person')!;
    assert.deepEqual(person.box, { x: 0.5, y: 0.5, w: 0.5, h: 0.5 });
    // A 32×32 region at (32, 16) of the 64×48 frame: the person (bottom-right quarter of the region) lands at
    // x 48/64, y 32/48; the car (top-left quarter) at x 32/64, y 16/48.
    const one = await p.detect(request('a', { regions: [{ x: 32, y: 16, w: 32, h: 32 }] }));
    const box = (label: string) => one.detections.find((d) => d.label === label)!.box;
    assert.deepEqual(box('person'), { x: 48 / 64, y: 32 / 48, w: 16 / 64, h: 16 / 48 });
    assert.deepEqual(box('car'), { x: 32 / 64, y: 16 / 48, w: 16 / 64, h: 16 / 48 });
    // The same region twice: two runs, one of each object.
    const twice = await p.detect(request('a', { regions: [{ x: 32, y: 16, w: 32, h: 32 }, { x: 32, y: 16, w: 32, h: 32 }] }));
    assert.equal(twice.runs, 2);
    assert.deepEqual(twice.detections.map((d) => d.label).sort(), ['car', 'person']);
    assert.ok(twice.inference_ms >= 0 && twice.queue_ms >= 0);
  });

  it('takes yuv420p frames as ffmpeg writes them, and clips regions to the frame', async () => {
    const yuv: Frame = { width: 64, height: 48, format: 'yuv420p', data: new Uint8Array(frameBytes(64, 48, 'yuv420p')).fill(128) };
    const r = await p.detect(request('a', { frame: yuv, regions: [{ x: 40, y: -10, w: 40, h: 40 }] }));
    // Clipped to (40, 0, 24, 30): the car is the region's top-left quarter.
    assert.deepEqual(r.detections.find((d) => d.label === 'car')!.box, { x: 40 / 64, y: 0, w: 12 / 64, h: 15 / 48 });
  });

  it('copies the frame by default, hands it over when asked, and shares shared memory', async () => {
    const copied = grey();
    await p.detect(request('a', { frame: copied }));
    assert.equal(copied.data.length, frameBytes(64, 48));
    // Copies go into buffers that come back from the worker for the next frame: what a worker sees is the frame
    // of that request, never a leftover.
    const digests: number[] = [];
    const onInference = (o: InferenceObservation) => digests.push(o.input_digest!);
    p.on('inference', onInference);
    for (const value of [10, 200, 10, 200, 10]) await p.detect(request('a', { frame: grey(64, 48, value) }));
    p.off('inference', onInference);
    assert.deepEqual(digests.map((d) => d === digests[0]), [true, false, true, false, true]);
    assert.equal(new Set(digests).size, 2);
    const handed = grey();
    await p.detect(request('a', { frame: handed, transfer: true }));
    assert.equal(handed.data.byteLength, 0, 'the transferred buffer is detached');
    const shared = new Uint8Array(new SharedArrayBuffer(frameBytes(64, 48))).fill(128);
    const r = await p.detect(request('a', { frame: { width: 64, height: 48, data: shared } }));
    assert.equal(r.detections.length, 2);
    await assert.rejects(p.detect(request('a', { frame: { ...grey(), data: grey().data.subarray(1) }, transfer: true })), (err) => isEdgeloopError(err, 'USAGE'));
  });

  it('reports wrong requests as errors, not skips', async () => {
    await assert.rejects(p.detect(request('a', { model: 'nope' })), (err) => isEdgeloopError(err, 'MODEL_NOT_FOUND') && /loaded: m/.test(err.message));
    const failedBefore = p.stats().requests.failed;
    await assert.rejects(p.detect(request('a', { frame: { width: 64, height: 48, data: new Uint8Array(10) } })), (err) => isEdgeloopError(err, 'MODEL_INPUT'));
    await assert.rejects(p.detect(request('a', { regions: [{ x: 100, y: 100, w: 10, h: 10 }] })), (err) => isEdgeloopError(err, 'MODEL_INPUT') && /outside/.test(err.message));
    assert.equal(p.stats().requests.failed, failedBefore + 2);
  });

  it('observes every request for health checks (digests of inputs and outputs, non-finite outputs) and in metrics', async () => {
    const registry = new Registry();
    registerPoolMetrics(registry, p);
    const seen: InferenceObservation[] = [];
    p.on('inference', (o) => seen.push(o));
    await p.detect(request('a'));
    await p.detect(request('a', { frame: grey(64, 48, 60) }));
    await assert.rejects(p.detect(request('a', { frame: { width: 64, height: 48, data: new Uint8Array(3) } })));
    assert.deepEqual(seen.map((o) => [o.name, o.version, o.ok, o.run_ms.length, o.non_finite]), [
      ['pool-basic', 0, true, 1, false],
      ['pool-basic', 0, true, 1, false],
      ['pool-basic', 0, false, 0, false],
    ]);
    assert.notEqual(seen[0]!.input_digest, seen[1]!.input_digest, 'different frames, different input digests');
    assert.equal(seen[0]!.output_digest, seen[1]!.output_digest, 'the scripted model answers the same to everything');
    assert.equal(seen[2]!.error, 'EDGELOOP_ERR_MODEL_INPUT');
    assert.deepEqual(seen[0]!.detections, [{ label: 'person', score: 0.9 }, { label: 'car', score: 0.8 }].map((d) => ({ ...d, score: Math.fround(d.score) })));
    const text = await registry.metrics();
    assert.match(text, /edgeloop_inference_run_seconds_count\{model="pool-basic",version="0"\} 2/);
    assert.match(text, /edgeloop_inference_failures_total\{model="pool-basic",version="0",error="EDGELOOP_ERR_MODEL_INPUT"\} 1/);
    assert.match(text, /edgeloop_inference_queue_depth 0/);
    const broken = pool();
    await broken.load('m', scriptedModel('pool-nan', { nan_scores: true, detections: [PERSON] }));
    const observed = once(broken, 'inference');
    await broken.detect(request('a'));
    assert.equal((await observed)[0].non_finite, true);
  });

  it('gives up on a request whose caller aborts while it waits', async () => {
    const slow = pool();
    await slow.load('m', scriptedModel('pool-abort', { delay_ms: 200, detections: [PERSON] }));
    // The worker holds two requests (running, next); the third waits in the queue.
    const running = [slow.detect(request('a')), slow.detect(request('a'))];
    const controller = new AbortController();
    const waiting = slow.detect(request('a'), controller.signal);
    controller.abort();
    assert.equal(await skipReason(waiting), 'aborted');
    await Promise.all(running);
    assert.equal(slow.stats().skips.aborted, 1);
  });
});

describe('inference pool: sharing', () => {
  it('serves cameras in fair order: fewest model runs first, a region costing one run', async () => {
    const p = pool({ queue_size: 12, max_wait_ms: 60_000 });
    await p.load('m', scriptedModel('pool-fair', { delay_ms: 10, detections: [PERSON] }));
    const order: string[] = [];
    const run = (camera: string, regions: number) =>
      p.detect(request(camera, { regions: Array.from({ length: regions }, () => ({ x: 0, y: 0, w: 32, h: 32 })) })).then(() => order.push(camera));
    // a asks first and more often, with two regions a request; b's single-region requests still get their turn.
    const all = [run('a', 2), run('a', 2), run('a', 2), run('a', 2), run('b', 1), run('b', 1), run('b', 1), run('b', 1)];
    await Promise.all(all);
    // The worker takes a's first two at once (a: 4 runs); b joins at a's count, not at 0; then the fewest runs
    // go first, on a tie the older request: a 4→6, b 4→5→6, a 6→8, b 6→7→8.
    assert.deepEqual(order, ['a', 'a', 'a', 'b', 'b', 'a', 'b', 'b']);
  });

  it('bounds the queue: a flooding camera is refused beyond its share, and a newcomer gets its share', async () => {
    const p = pool({ queue_size: 4, max_wait_ms: 60_000 });
    await p.load('m', scriptedModel('pool-bound', { delay_ms: 50, detections: [PERSON] }));
    // Two go to the worker (running, next), four wait, four are refused at once.
    const flood = Array.from({ length: 10 }, () => p.detect(request('a')));
    const refusedAtOnce = await Promise.all(flood.slice(6).map(skipReason));
    assert.deepEqual(refusedAtOnce, Array(4).fill('queue_full'));
    assert.equal(p.stats().queue.depth, 4);
    // b arrives with the queue full: a's newest requests make room for b's share (2), b's third is refused.
    const b = [p.detect(request('b')), p.detect(request('b'))];
    assert.equal(await skipReason(p.detect(request('b'))), 'queue_full');
    assert.equal(await skipReason(flood[5]!), 'queue_full');
    assert.equal(await skipReason(flood[4]!), 'queue_full');
    await Promise.all([...flood.slice(0, 4), ...b]);
    const stats = p.stats();
    assert.deepEqual(stats.skips_by_camera, { a: { queue_full: 6 }, b: { queue_full: 1 } });
    assert.equal(stats.requests.served, 6);
  });

  it('keeps to the detections-per-second budget, refusing the excess at once', async () => {
    const p = pool({ detections_per_s: 3, queue_size: 20, max_wait_ms: 60_000 });
    await p.load('m', scriptedModel('pool-budget', { detections: [PERSON] }));
    const burst = Array.from({ length: 6 }, () => p.detect(request('a')).then(() => 'ran', (err: unknown) => (err as InferenceSkipped).reason));
    // The budget allows one second's worth at once: 3 runs.
    assert.deepEqual((await Promise.all(burst)).sort(), ['budget', 'budget', 'budget', 'ran', 'ran', 'ran']);
    // A request of more regions than a second of budget can never run.
    assert.equal(await skipReason(p.detect(request('b', { regions: Array(4).fill({ x: 0, y: 0, w: 8, h: 8 }) }))), 'budget');
    assert.equal(p.stats().skips.budget, 4);
  });

  it('skips a request that waited too long as stale', async () => {
    const p = pool({ max_wait_ms: 30 });
    await p.load('m', scriptedModel('pool-stale', { delay_ms: 150, detections: [PERSON] }));
    const inWorker = [p.detect(request('a')), p.detect(request('a'))];
    const third = skipReason(p.detect(request('a')));
    await Promise.all(inWorker);
    assert.equal(await third, 'stale');
  });
});

describe('inference pool: watchdog', () => {
  it('terminates a hung worker, fails its request as timeout (and the one handed to it next), serves the queue from a replacement', async () => {
    const p = pool({ infer_timeout_s: 0.5, max_wait_ms: 60_000 });
    await p.load('m', scriptedModel('pool-hang', { hang_above: 0.9, detections: [PERSON] }));
    const stalled = once(p, 'stall');
    const restarted = once(p, 'restart');
    const hung = skipReason(p.detect(request('cam', { frame: white() })));
    // Handed to the worker behind the hung run, its frame goes with the worker.
    const behind = skipReason(p.detect(request('other')));
    // Still in the queue: served by the replacement.
    const queued = p.detect(request('other'));
    assert.equal(await hung, 'timeout');
    assert.equal(await behind, 'crashed');
    assert.equal((await queued).detections.length, 1);
    const [stall] = await stalled;
    assert.equal(stall.camera, 'cam');
    assert.ok(stall.after_ms >= 500);
    const [restart] = await restarted;
    assert.deepEqual(restart, { worker: 0, reason: 'timeout', restarts: 1 });
    // The replacement loaded the model again.
    assert.equal((await p.detect(request('cam'))).detections[0]!.label, 'person');
    assert.equal(p.stats().workers.restarts, 1);
    assert.deepEqual([p.stats().skips.timeout, p.stats().skips.crashed], [1, 1]);
  });

  it('refuses a waiting request once the pool is closed, and finishes the running one', async () => {
    const p = new InferencePool({ workers: 1, engine_modules: [SCRIPTED_ENGINE] });
    await p.load('m', scriptedModel('pool-close', { delay_ms: 100, detections: [PERSON] }));
    const inWorker = [p.detect(request('a')), p.detect(request('a'))];
    const waiting = skipReason(p.detect(request('a')));
    await p.close();
    for (const r of await Promise.all(inWorker)) assert.equal(r.detections.length, 1);
    assert.equal(await waiting, 'closed');
    assert.equal(await skipReason(p.detect(request('a'))), 'closed');
  });
});

describe('inference pool: versions', () => {
  const v1 = () => scriptedModel('pool-v1', { delay_ms: 2, detections: [PERSON] });
  const v2 = () => scriptedModel('pool-v2', { delay_ms: 2, detections: [CAR] });

  it('swaps versions under load between two requests: none lost, later requests on the new one, the old disposed', async () => {
    const p = pool({ workers: 2, queue_size: 16, max_wait_ms: 60_000 });
    await p.load('m', v1(), { version: 1 });
    let stop = false;
    let activated = false;
    const results: { after: boolean; result: DetectResult }[] = [];
    const errors: unknown[] = [];
    // Two cameras, two requests in flight each, for as long as the swap takes.
    const camera = async (name: string) => {
      while (!stop) {
        const after = activated;
        try {
          results.push({ after, result: await p.detect(request(name)) });
        } catch (err) {
          errors.push(err);
        }
      }
    };
    const loops = [camera('a'), camera('a'), camera('b'), camera('b')];
    const candidate = await p.prepare('m', v2(), { version: 2 });
    assert.equal(candidate.info.state, 'candidate');
    const disposed = once(p, 'dispose');
    const swapped = once(p, 'swap');
    candidate.activate();
    activated = true;
    p.commit('m');
    const before = results.length;
    while (results.length < before + 20) await new Promise((resolve) => setImmediate(resolve));
    stop = true;
    await Promise.all(loops);
    assert.deepEqual(errors, []);
    assert.deepEqual((await swapped)[0], { model: 'm', from: { name: 'pool-v1', version: 1 }, to: { name: 'pool-v2', version: 2 }, kind: 'activate' });
    assert.deepEqual((await disposed)[0], { model: 'm', name: 'pool-v1', version: 1 });
    const versions = (after: boolean) => new Set(results.filter((r) => r.after === after).map((r) => r.result.model.version));
    assert.deepEqual(versions(true), new Set([2]), 'requests made after the swap ran on the new version');
    assert.ok(versions(false).has(1));
    for (const { result } of results) assert.equal(result.detections[0]!.label, result.model.version === 1 ? 'person' : 'car');
    const stats = p.stats();
    assert.equal(stats.swaps, 1);
    assert.deepEqual(Object.values(stats.skips), Array(Object.keys(stats.skips).length).fill(0));
    assert.deepEqual(p.models(), [{ key: 'm', active: { ...candidate.info, state: 'active' }, previous: undefined }]);
  });

  it('checks a candidate without activating it, and discards it', async () => {
    const p = pool();
    await p.load('m', v1(), { version: 1 });
    const candidate = await p.prepare('m', v2(), { version: 2 });
    assert.equal((await candidate.detect({ camera: 'check', frame: grey() })).detections[0]!.label, 'car');
    assert.equal((await p.detect(request('a'))).detections[0]!.label, 'person');
    const disposed = once(p, 'dispose');
    candidate.discard();
    assert.equal((await disposed)[0].version, 2);
    await assert.rejects(candidate.detect({ camera: 'check', frame: grey() }), (err) => isEdgeloopError(err, 'USAGE'));
    assert.equal((await p.detect(request('a'))).model.version, 1);
  });

  it('rolls back to the previous version, which stayed loaded', async () => {
    const p = pool();
    await p.load('m', v1(), { version: 1 });
    (await p.prepare('m', v2(), { version: 2 })).activate();
    assert.equal((await p.detect(request('a'))).model.version, 2);
    assert.equal(p.models()[0]!.previous!.version, 1);
    const disposed = once(p, 'dispose');
    assert.equal(p.rollback('m').version, 1);
    assert.equal((await p.detect(request('a'))).detections[0]!.label, 'person');
    assert.equal((await disposed)[0].version, 2);
    assert.throws(() => p.rollback('m'), (err) => isEdgeloopError(err, 'USAGE'));
  });

  it('gives up a prepare when told to, unloading what it loaded', async () => {
    const p = pool({ workers: 2 });
    await p.load('m', v1(), { version: 1 });
    const controller = new AbortController();
    const disposed = once(p, 'dispose');
    const preparing = p.prepare('m', v2(), { version: 2, signal: controller.signal });
    // The first worker's load is under way; the second one's is never started.
    controller.abort();
    await assert.rejects(preparing, (err: Error) => err.name === 'AbortError');
    assert.equal((await disposed)[0].version, 2);
    assert.equal((await p.detect(request('a'))).model.version, 1);
  });

  it('keeps serving the old version when the new one does not load', async () => {
    const p = pool();
    await p.load('m', v1(), { version: 1 });
    await assert.rejects(p.prepare('m', scriptedModel('pool-bad', { fail_load: true }), { version: 2 }), (err) => isEdgeloopError(err, 'MODEL_INVALID'));
    await assert.rejects(p.load('m', '/nonexistent/model.json'), (err) => isEdgeloopError(err, 'MODEL_NOT_FOUND'));
    assert.equal((await p.detect(request('a'))).model.version, 1);
    assert.equal(p.models()[0]!.previous, undefined);
  });
});
