// The Hono middleware form: `app.use('/app/*', edgegateHono())`. The gate decides exactly as the
// wrapper form does (same engine, same answers at the edge); a forward step puts the identity on
// the context (`c.get('edgegate')`), replaces `c.req.raw` with the request the origin would have
// received (client's x-auth-* and the other stripped headers removed, the gate's identity headers
// set), runs the rest of the chain, then applies the authenticated-response rules to `c.res`.
// No dependency on hono: a middleware is `async (c, next) => …`.
import { admit, release } from './wrapper.mjs';

/** Hono's `c.executionCtx` throws outside a Workers runtime (e.g. `app.request()` in tests). */
function executionCtx(c) {
  try {
    return c.executionCtx;
  } catch {
    return undefined;
  }
}

/**
 * A Hono middleware gating the routes it is mounted on. `options.vars`: configuration over the
 * Worker's `c.env` (optional). Create it once (module scope): the engine is built once per
 * middleware and isolate.
 */
export function edgegateHono(options = {}) {
  const vars = options?.vars;
  const state = {};
  return async function edgegate(c, next) {
    const a = await admit(state, c.req.raw, c.env, vars, executionCtx(c));
    if (a.response !== undefined) return a.response;
    c.set('edgegate', a.identity);
    // As hono's own body-limit middleware does: later handlers read the gated request.
    c.req.raw = a.inbound;
    await next();
    const resp = c.res;
    const out = release(state, a.engine, a.d, resp);
    if (out !== resp) {
      // Unset first: assigning over a response merges the old one's headers into the new one.
      c.res = undefined;
      c.res = out;
    }
  };
}
