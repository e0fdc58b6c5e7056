/**
 * Which engine the public SM2 API runs on. Production always uses the WebAssembly kernel;
 * the switch exists so the test suite can run every test over both implementations.
 * Not exported from the package entry point.
 * @internal
 */
import { referenceEngine, type Sm2Engine } from './engine.js';
import { wasmEngine } from './wasm.js';
import { wasmAvailable } from '../wasm/load.js';
import { CryptoError } from '../errors.js';

let current: Sm2Engine | undefined;
let reference: Sm2Engine | undefined;

/**
 * The engine in use (the wasm kernel unless a test selected the reference). Without
 * WebAssembly there is no silent fallback to the BigInt reference, which is not
 * constant-time: SM2 then fails with `CRYPTO_ERR_UNSUPPORTED`.
 * @internal
 */
export function sm2Engine(): Sm2Engine {
  if (current === undefined) {
    if (!wasmAvailable()) throw new CryptoError('CRYPTO_ERR_UNSUPPORTED', 'SM2 needs WebAssembly, which this runtime lacks');
    current = wasmEngine();
  }
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
