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
export function parseClaims(b64u) {
  const binary = atob(b64u.replace(/-/g, '+').replace(/_/g, '/'));
  return JSON.parse(new TextDecoder().decode(Uint8Array.from(binary, (c) => c.charCodeAt(0))));
}

/**
 * The engine's view of `env` in the in-isolate forms: `vars` (if any) over `env`, and ORIGIN_URL
 * replaced by the placeholder (there is no origin: the app's own ORIGIN_URL, if any, is not read).
 */
export function gateEnv(env, vars) {
  const props = {};
  for (const [key, value] of Object.entries(vars ?? {})) props[key] = { value, enumerable: true };
  props.ORIGIN_URL = { value: NO_ORIGIN_URL };
  return Object.create(env ?? null, props);
}

/**
 * The gate's half of an in-isolate form, before the app runs: `{ response }` for an answer at the
 * edge (or the gate's own failure), else `{ engine, d, inbound, identity }` — `inbound` the
 * request the app gets (stripped headers removed, identity headers set), `identity` frozen or null.
 */
export async function admit(state, request, env, vars, ctx) {
  try {
    const engine = state.engine ?? engineFor(gateEnv(env, vars), state);
    const d = await decide(engine, request, ctx);
    if (d.log !== undefined) console.log(d.log);
    if (d.step === 'respond') return { response: reply(d) };
    const inbound = forwarded(request, d, onRequestOrigin(d.url, request));
    let identity = null;
    if (d.sub !== undefined) {
      identity = Object.freeze({ sub: d.sub, claims: parseClaims(d.claims) });
      identities.set(inbound, identity);
    }
    return { engine, d, inbound, identity };
  } catch (e) {
    return { response: internalError(state, e) };
  }
}

/** The client's response for the app's `resp` (authenticated-response rules applied). */
export function release(state, engine, d, resp) {
  try {
    return answered(engine, d, resp);
  } catch (e) {
    return internalError(state, e);
  }
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
    const a = await admit(state, request, env, undefined, ctx);
    if (a.response !== undefined) return a.response;
    // The app's own errors are its own: they reach the runtime as the app threw them.
    const resp = await app.call(self, a.inbound, env, ctx, a.identity);
    if (!(resp instanceof Response)) throw new TypeError('withGate: the app did not return a Response');
    return release(state, a.engine, a.d, resp);
  }
  return typeof handler === 'function' ? { fetch } : { ...handler, fetch };
}
