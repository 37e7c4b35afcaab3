// The Worker: `export default { fetch }` configured from `[vars]` and secrets, plus the `Verifier`.
import { initSync } from './wasm.js';
import module from './index_bg.wasm';
import { engineFor, handle } from './gate.mjs';

// Compiled by the runtime at upload (a WebAssembly.Module); instantiated once per isolate.
initSync({ module });

const isolate = {};

export default {
  fetch(request, env) {
    return handle(engineFor(env, isolate), request);
  },
};

export { Verifier } from './verifier.mjs';
