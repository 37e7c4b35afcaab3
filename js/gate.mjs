// The request path, top to bottom. The decision is the wasm core's (`Engine.decide`: path, policy,
// token, signature, claims, CSRF; synchronous); this module does the I/O around it: read the
// headers the decision needs, forward or answer, log. For an HMAC token that is one call into wasm;
// a public-key signature or a remote key fetch adds one call per answered question.
import { Engine } from './wasm.js';
import { answer } from './webcrypto.mjs';
import { refreshKeys } from './remote.mjs';
import { attach, engineEnv, listNow, refreshInBackground } from './revocation.mjs';

// The core's configuration requires ORIGIN_URL. Where the gate forwards to no URL of its own (the
// wrapper form; an `ORIGIN` service binding without ORIGIN_URL) the engine is configured with this
// base instead, and a forward step's URL is put back on the request's own origin. Never fetched.
export const NO_ORIGIN_URL = 'http://edgegate.invalid';

/** `url` (a forward step's, on NO_ORIGIN_URL) moved onto the origin of `request`. */
export function onRequestOrigin(url, request) {
  if (!url.startsWith(`${NO_ORIGIN_URL}/`)) throw new Error('forward outside the base');
  return new URL(request.url).origin + url.slice(NO_ORIGIN_URL.length);
}

// Questions a request may ask before its signature is refused: a remote set replaced between two
// steps changes the candidate keys, so one more round is legitimate; an endless loop is not.
const MAX_ROUNDS = 4;

/** The isolate's engine for `env` (configuration validated once; start-up lines logged once). */
export function engineFor(env, state) {
  if (state.engine === undefined) {
    state.engine = new Engine(engineEnv(env));
    attach(state.engine, env);
    for (const line of state.engine.startupLines()) console.log(line);
  }
  return state.engine;
}

/** A step as the core returns it: JSON, then optionally a newline and the log line (verbatim). */
export function parseStep(text) {
  const nl = text.indexOf('\n');
  if (nl < 0) return JSON.parse(text);
  const step = JSON.parse(text.slice(0, nl));
  step.log = text.slice(nl + 1);
  return step;
}

/**
 * Decides `request` with `engine`: the parsed final step (`forward` or `respond`). A revocation
 * list fetch that is due runs in the background afterwards (`ctx.waitUntil`).
 */
export async function decide(engine, request, ctx, started = Date.now()) {
  // One pass over the headers: their names (the core says which must not reach the origin) and
  // the values the decision reads (an iteration is cheaper than a get() per header).
  let names = '';
  let cookie = null, authorization = null, accept = null, mode = null, site = null, origin = null, upgrade = null, connection = null;
  for (const [name, value] of request.headers) {
    names += `${name}\n`;
    switch (name) {
      case 'cookie': cookie = value; break;
      case 'authorization': authorization = value; break;
      case 'accept': accept = value; break;
      case 'sec-fetch-mode': mode = value; break;
      case 'sec-fetch-site': site = value; break;
      case 'origin': origin = value; break;
      case 'upgrade': upgrade = value; break;
      case 'connection': connection = value; break;
    }
  }
  let keysFetched = false;
  let revocationsFetched = false;
  let answers;
  for (let round = 0; ; round++) {
    const step = parseStep(engine.decide(
      request.method, request.url, cookie, authorization, accept, mode, site, origin, upgrade,
      names, connection, started, Date.now(), keysFetched, revocationsFetched, answers, round >= MAX_ROUNDS,
    ));
    if (step.step === 'keys') {
      keysFetched = true;
      await refreshKeys(engine, step.unknown_kid);
    } else if (step.step === 'revocations') {
      revocationsFetched = true;
      await listNow(engine);
    } else if (step.step === 'signature') {
      answers = await answer(engine, step, answers);
    } else {
      refreshInBackground(engine, ctx);
      return step;
    }
  }
}

/**
 * The Worker's fetch handler on `engine`. `origin`: where forwarded requests go — `undefined` for
 * ORIGIN_URL over the network, or `{ binding, rebase }` for an `ORIGIN` service binding (`rebase`:
 * no ORIGIN_URL, so the origin Worker sees the request's own origin). `ctx`: the Worker's
 * execution context (background work).
 */
export async function handle(engine, request, origin, ctx) {
  const d = await decide(engine, request, ctx);
  if (d.log !== undefined) console.log(d.log);
  if (d.step === 'respond') return reply(d);
  const outbound = forwarded(request, d, origin?.rebase ? onRequestOrigin(d.url, request) : d.url);
  if (d.assertion !== undefined) outbound.headers.set('x-auth-assertion', d.assertion);
  let resp;
  try {
    resp = await (origin ? origin.binding.fetch(outbound) : fetch(outbound));
  } catch {
    const failed = parseStep(engine.originUnreachable(request.method, request.url, d.timing));
    console.log(failed.log);
    return reply(failed);
  }
  return answered(engine, d, resp);
}

/**
 * The request a `forward` step `d` sends on to `url` (the origin, or the app in the same isolate):
 * one Request, its headers copied once from the client's and then edited in place — the `strip`
 * headers removed, then the identity set. The body is streamed, never buffered; redirects go back
 * to the client.
 */
export function forwarded(request, d, url) {
  const authenticated = d.sub !== undefined;
  // `duplex`: Node.js's fetch requires it with a stream body (the `edgegate/node` form).
  const init = { method: request.method, headers: request.headers, body: request.body, redirect: 'manual', duplex: 'half' };
  // Authenticated: never answered from, nor stored in, the edge cache.
  if (authenticated) init.cache = 'no-store';
  const outbound = new Request(url, init);
  const headers = outbound.headers;
  for (const name of d.strip) headers.delete(name);
  if (authenticated) {
    headers.set('x-auth-sub', d.sub);
    headers.set('x-auth-claims', d.claims);
  }
  return outbound;
}

/** The response to the client for `resp`, the answer to a forwarded request. */
export function answered(engine, d, resp) {
  if (resp.status === 101) return resp; // a WebSocket upgrade passes untouched
  const cacheControl = d.sub !== undefined ? engine.cacheControl(resp.headers.get('cache-control')) : undefined;
  if (cacheControl === undefined && d.timing === undefined) return resp;
  // A copy with mutable headers (status, status text, body stream and every Set-Cookie kept).
  const out = new Response(resp.body, resp);
  if (cacheControl !== undefined) out.headers.set('cache-control', cacheControl);
  if (d.timing !== undefined) out.headers.append('server-timing', d.timing);
  return out;
}

/**
 * A runtime failure of the gate itself (not reachable from input: the core answers every request
 * with a typed step, and is fuzzed): fails closed with a typed answer, and the next request builds
 * a fresh engine. The message is not logged (it could quote the request URL).
 */
export function internalError(state, e) {
  state.engine = undefined;
  console.log(JSON.stringify({ edgegate: 'error', level: 'error', reason: 'internal_error', problem: String(e?.name ?? 'Error') }));
  return new Response('{"error":"internal_error"}', {
    status: 500,
    headers: { 'content-type': 'application/json', 'cache-control': 'no-store' },
  });
}

/** The response for an answer decided at the edge. */
export function reply(d) {
  const headers = new Headers({ 'cache-control': 'no-store' });
  if (d.location !== undefined) headers.set('location', d.location);
  if (d.www !== undefined) headers.set('www-authenticate', d.www);
  if (d.body !== undefined) headers.set('content-type', d.type);
  if (d.timing !== undefined) headers.set('server-timing', d.timing);
  return new Response(d.body ?? null, { status: d.status, headers });
}
