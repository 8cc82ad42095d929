import { tfliteEngine } from '../../src/inference/engines/tflite.ts';
import { engineSuite } from './engine-suite.ts';

engineSuite(tfliteEngine, 'tflite');
