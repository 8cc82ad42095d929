// The engine suite, run against sessions that live in the pool's worker threads: tensors, numerics and errors
// (with their codes) cross the thread boundary unchanged.
import { after } from 'node:test';
import { InferencePool } from '../../src/inference/pool/pool.ts';
import { engineSuite } from './engine-suite.ts';

const pool = new InferencePool({ workers: 1 });
after(() => pool.close());

engineSuite(pool.engine('tflite'), 'tflite');
engineSuite(pool.engine('onnx'), 'onnx');
