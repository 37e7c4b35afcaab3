// The Worker: `export default { fetch }` configured from `[vars]` and secrets, plus the wrapper
// form (`withGate`: an app's own fetch handler behind the gate) and the `Verifier`.
import { initSync } from './wasm.js';
import module from './index_bg.wasm';
import { engineFor, handle, internalError } from './gate.mjs';

// Compiled by the runtime at upload (a WebAssembly.Module); instantiated once per isolate.
initSync({ module });

const isolate = {};

export default {
  async fetch(request, env) {
    try {
      return await handle(engineFor(env, isolate), request);
    } catch (e) {
      return internalError(isolate, e);
    }
  },
};

export { withGate, identityOf } from './wrapper.mjs';
export { Verifier } from './verifier.mjs';
