/**
 * Which engine the public SM2 API runs on. Production always uses the WebAssembly kernel;
 * the switch exists so the test suite can run every test over both implementations.
 * Not exported from the package entry point.
 * @internal
 */
import { referenceEngine, type Sm2Engine } from './engine.js';
import { wasmEngine } from './wasm.js';

let current: Sm2Engine | undefined;
let reference: Sm2Engine | undefined;

/** The engine in use (the wasm kernel unless a test selected the reference). @internal */
export function sm2Engine(): Sm2Engine {
  current ??= wasmEngine();
  return current;
}

/**
 * Test-only: select the engine behind the public API.
 * @example _setSm2Backend('reference')
 * @internal
 */
export function _setSm2Backend(name: 'wasm' | 'reference'): void {
  if (name === 'wasm') current = wasmEngine();
  else current = reference ??= referenceEngine();
}
