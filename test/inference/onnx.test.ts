import { onnxEngine } from '../../src/inference/engines/onnx.ts';
import { engineSuite } from './engine-suite.ts';

engineSuite(onnxEngine, 'onnx');
