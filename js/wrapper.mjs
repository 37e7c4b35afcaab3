// The wrapper form: an app's own fetch handler runs behind the gate, in the same isolate. The gate
// decides exactly as the standalone Worker does (same engine, same answers at the edge); a forward
// step calls the app instead of fetching ORIGIN_URL, with the request the origin would have
// received (client's x-auth-* and the other stripped headers removed, the gate's identity headers
// set) and the identity as an argument (also via `identityOf(request)`).
import { NO_ORIGIN_URL, answered, decide, engineFor, forwarded, internalError, onRequestOrigin, reply } from './gate.mjs';

// The identity of each request handed to an app, keyed by that Request object: only the gate
// creates those, so a client cannot put an entry here.
const identities = new WeakMap();

/** The verified identity of a request the gate handed to the app; `null` for any other request. */
export function identityOf(request) {
  return identities.get(request) ?? null;
}

/** `x-auth-claims` (base64url of the verified claims JSON, as signed) parsed. */
function parseClaims(b64u) {
  const binary = atob(b64u.replace(/-/g, '+').replace(/_/g, '/'));
  return JSON.parse(new TextDecoder().decode(Uint8Array.from(binary, (c) => c.charCodeAt(0))));
}

/**
 * `handler` (an object with `fetch(request, env, ctx, identity)`, e.g. a Worker's default export
 * or a Hono app, or such a function) behind the gate: returns a Worker handler (`{ fetch }`, and
 * the object's other members, such as `scheduled`, kept).
 */
export function withGate(handler) {
  const app = typeof handler === 'function' ? handler : handler?.fetch;
  if (typeof app !== 'function') {
    throw new TypeError('withGate: expected a fetch handler: { fetch(request, env, ctx, identity) } or a function');
  }
  const self = typeof handler === 'function' ? undefined : handler;
  const state = {};
  async function fetch(request, env, ctx) {
    let engine, d, inbound, identity = null;
    try {
      // The wrapper forwards to no origin: the app's own ORIGIN_URL, if any, is not read.
      engine = state.engine ?? engineFor(Object.create(env ?? null, { ORIGIN_URL: { value: NO_ORIGIN_URL } }), state);
      d = await decide(engine, request);
      if (d.log !== undefined) console.log(d.log);
      if (d.step === 'respond') return reply(d);
      inbound = forwarded(request, d, onRequestOrigin(d.url, request));
      if (d.sub !== undefined) {
        identity = Object.freeze({ sub: d.sub, claims: parseClaims(d.claims) });
        identities.set(inbound, identity);
      }
    } catch (e) {
      return internalError(state, e);
    }
    // The app's own errors are its own: they reach the runtime as the app threw them.
    const resp = await app.call(self, inbound, env, ctx, identity);
    if (!(resp instanceof Response)) throw new TypeError('withGate: the app did not return a Response');
    try {
      return answered(engine, d, resp);
    } catch (e) {
      return internalError(state, e);
    }
  }
  return typeof handler === 'function' ? { fetch } : { ...handler, fetch };
}
