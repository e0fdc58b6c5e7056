/**
 * Test-only switch of the engine behind the public SM2 API, so the test suite can run every
 * test over both implementations. Production always uses the WebAssembly kernel; the holder
 * (`sm2Engine`) lives in wasm.ts so that the package entry point loads neither this module nor
 * the BigInt reference engine. Not exported from the package entry point.
 * @internal
 */
import { referenceEngine, type Sm2Engine } from './engine.js';
import { wasmEngine, _useSm2Engine } from './wasm.js';

export { sm2Engine } from './wasm.js';

let reference: Sm2Engine | undefined;

/**
 * Test-only: select the engine behind the public API.
 * @example _setSm2Backend('reference')
 * @internal
 */
export function _setSm2Backend(name: 'wasm' | 'reference'): void {
  _useSm2Engine(name === 'wasm' ? wasmEngine() : (reference ??= referenceEngine()));
}
