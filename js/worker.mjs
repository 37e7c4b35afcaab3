// The Worker: `export default { fetch }` configured from `[vars]` and secrets, plus the wrapper
// form (`withGate`: an app's own fetch handler behind the gate), the Hono middleware
// (`edgegateHono`) and the `Verifier`.
import { initSync } from './wasm.js';
import module from './index_bg.wasm';
import { NO_ORIGIN_URL, engineFor, handle, internalError, reply } from './gate.mjs';

// Compiled by the runtime at upload (a WebAssembly.Module); instantiated once per isolate.
initSync({ module });

const isolate = {};

/**
 * Where forwarded requests go, read once per isolate: ORIGIN_URL over the network, or the `ORIGIN`
 * service binding (another Worker or a Pages project, no public hop) — then ORIGIN_URL is optional.
 */
function origin(env) {
  if (env.ORIGIN === undefined) return { env };
  if (typeof env.ORIGIN?.fetch !== 'function') {
    return { error: JSON.stringify({ edgegate: 'config', level: 'error', reason: 'misconfigured', key: 'ORIGIN', problem: 'must be a service binding (a Worker or a Pages project), not a variable' }) };
  }
  const rebase = env.ORIGIN_URL === undefined;
  return {
    env: rebase ? Object.create(env, { ORIGIN_URL: { value: NO_ORIGIN_URL } }) : env,
    via: { binding: env.ORIGIN, rebase },
  };
}

export default {
  async fetch(request, env, ctx) {
    try {
      const o = (isolate.origin ??= origin(env));
      if (o.error !== undefined) {
        console.log(o.error);
        return reply({ status: 500, body: '{"error":"misconfigured"}', type: 'application/json' });
      }
      return await handle(engineFor(o.env, isolate), request, o.via, ctx);
    } catch (e) {
      return internalError(isolate, e);
    }
  },
};

export { withGate, identityOf } from './wrapper.mjs';
export { edgegateHono } from './hono.mjs';
export { Verifier } from './verifier.mjs';
