// The revocation list (REVOCATION_URL or the REVOCATION_KV binding): the I/O half. When to fetch,
// whether a document is authentic and newer than the one held, and what it revokes are the core's
// (Revocations, Gate::revocation_document; natively tested): this module fetches when told — in the
// background once the isolate holds a list, so no request waits for it — with a timeout and a size
// cap, and shares what it fetched from REVOCATION_URL with the location's other isolates through
// the Cache API. KV namespaces are replicated and cached by the platform itself.
import { Engine } from './wasm.js';
import { cacheGet, cachePut, decodeText, fetchCapped, readCapped } from './remote.mjs';
import { answer } from './webcrypto.mjs';

const MAX_DOCUMENT_BYTES = 256 * 1024;
const MAX_ROUNDS = 4;
const WHAT = 'the revocation list';

// Per engine: { url | kv + key, cacheTtl, inflight }.
const sources = new WeakMap();

/**
 * The environment the engine is built from: a REVOCATION_KV binding is shown to the core as
 * KV_BINDING (the core cannot see bindings; anything else there is a variable and refused).
 */
export function engineEnv(env) {
  const kv = env?.REVOCATION_KV;
  if (kv === undefined || typeof kv?.get !== 'function') return env;
  return Object.create(env, { REVOCATION_KV: { value: Engine.kvBinding() } });
}

/** Remembers where `engine` (built from `env`) gets its revocation list, if it has one. */
export function attach(engine, env) {
  const text = engine.revocation;
  if (text === undefined) return;
  const { url, kv, cache_ttl: cacheTtl } = JSON.parse(text);
  sources.set(engine, url !== undefined ? { url, cacheTtl } : { kv: env.REVOCATION_KV, key: kv, cacheTtl });
}

/**
 * For a request the core will not decide without a list (the isolate holds none, or has not
 * refreshed it for two intervals): waits for the fetch running, or starts one if the core says
 * one is due. Never throws.
 */
export function listNow(engine) {
  const src = sources.get(engine);
  if (!src) return undefined;
  return src.inflight ?? start(engine, src);
}

/** After a decision: a fetch due now runs in the background (`ctx.waitUntil`). */
export function refreshInBackground(engine, ctx) {
  const src = sources.get(engine);
  if (!src || src.inflight) return;
  const p = start(engine, src);
  if (p) ctx?.waitUntil?.(p);
}

function start(engine, src) {
  const from = engine.beginRevocationFetch(Date.now());
  if (from === 0) return undefined;
  src.inflight = fetchList(engine, src, from).finally(() => { src.inflight = undefined; });
  return src.inflight;
}

async function fetchList(engine, src, from) {
  try {
    if (from === 1 && src.url !== undefined) {
      const hit = await cacheGet(src.url).catch(() => null);
      if (hit && (await offer(engine, hit.body))) return;
    }
    const body = src.url !== undefined ? await fromUrl(src.url) : await fromKv(src.kv, src.key);
    // Best effort: a failed cache write only costs another fetch elsewhere.
    if ((await offer(engine, body)) && src.url !== undefined) await cachePut(src.url, body, src.cacheTtl).catch(() => {});
  } catch (e) {
    console.log(engine.revocationFailed(String(e?.message ?? e)));
  }
}

async function fromUrl(url) {
  const { body } = await fetchCapped(url, {
    accept: 'application/jwt', cap: MAX_DOCUMENT_BYTES, what: WHAT, who: 'REVOCATION_URL',
    // Always the source's current list, never an HTTP cache's copy.
    init: { cache: 'no-store' },
  });
  return body;
}

async function fromKv(kv, key) {
  let stream;
  try {
    stream = await kv.get(key, { type: 'stream' });
  } catch (e) {
    throw new Error(`reading REVOCATION_KV failed: ${e?.message ?? 'error'}`);
  }
  if (stream === null) throw new Error(`REVOCATION_KV has no key ${JSON.stringify(key)}`);
  return decodeText(await readCapped(new Response(stream), MAX_DOCUMENT_BYTES, WHAT), WHAT);
}

/** Hands `body` to the core (answering its signature questions); whether it took it. */
async function offer(engine, body) {
  let answers;
  for (let round = 0; ; round++) {
    const r = JSON.parse(engine.revocationDocument(body, Date.now(), answers, round >= MAX_ROUNDS));
    if (r.step === 'signature') {
      answers = await answer(engine, r, answers);
      continue;
    }
    for (const line of r.lines) console.log(line);
    return r.ok;
  }
}
