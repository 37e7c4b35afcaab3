// The Worker: `export default { fetch }` configured from `[vars]` and secrets, plus the `Verifier`.
import { initSync } from './wasm.js';
import module from './index_bg.wasm';
import { engineFor, handle } from './gate.mjs';

// Compiled by the runtime at upload (a WebAssembly.Module); instantiated once per isolate.
initSync({ module });

const isolate = {};

export default {
  async fetch(request, env) {
    try {
      return await handle(engineFor(env, isolate), request);
    } catch (e) {
      // Not reachable from input (the core answers every request with a typed step, and is
      // fuzzed): a runtime failure still fails closed with a typed answer, and the next request
      // builds a fresh engine. The message is not logged (it could quote the request URL).
      isolate.engine = undefined;
      console.log(JSON.stringify({ edgegate: 'error', level: 'error', reason: 'internal_error', problem: String(e?.name ?? 'Error') }));
      return new Response('{"error":"internal_error"}', {
        status: 500,
        headers: { 'content-type': 'application/json', 'cache-control': 'no-store' },
      });
    }
  },
};

export { Verifier } from './verifier.mjs';
