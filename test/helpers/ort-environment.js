'use strict';
/**
 * Jest environment for suites that run onnxruntime-node. Jest gives each test file its own realm, so typed arrays
 * made there fail `instanceof Float32Array` checks against the arrays onnxruntime-node's native code returns
 * (outputs come back from the outer realm: "A float32 tensor's data must be type of function Float32Array()").
 * Sharing the outer realm's typed array constructors makes both agree. Use with the docblock
 * `@jest-environment ./test/helpers/ort-environment.js`.
 */
const { TestEnvironment } = require('jest-environment-node');

const SHARED = [
  'ArrayBuffer',
  'SharedArrayBuffer',
  'DataView',
  'Float32Array',
  'Float64Array',
  'Int8Array',
  'Int16Array',
  'Int32Array',
  'Uint8Array',
  'Uint8ClampedArray',
  'Uint16Array',
  'Uint32Array',
  'BigInt64Array',
  'BigUint64Array',
];

class OrtEnvironment extends TestEnvironment {
  constructor(config, context) {
    super(config, context);
    for (const name of SHARED) this.global[name] = globalThis[name];
  }
}

module.exports = OrtEnvironment;
