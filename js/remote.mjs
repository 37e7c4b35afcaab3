// The remote JWK Set (JWKS_URL): the I/O half. When, and whether, to fetch is the core's
// (RemoteKeys, natively tested): this module fetches when told, with a timeout and a size cap, and
// shares fetched sets with the other isolates of the location through the Cache API.
const MAX_JWKS_BYTES = 256 * 1024;
const FETCH_TIMEOUT_MS = 5000;
// When a Cache API copy was fetched (ms since the epoch).
const FETCHED_AT = 'x-edgegate-fetched-at';

/** Fetches keys if the core's refresh rules allow it now; never throws. */
export async function refreshKeys(engine, unknownKid) {
  const url = engine.jwksUrl;
  const from = engine.beginKeyFetch(Date.now(), unknownKid);
  if (from === 0 || url === undefined) return;
  try {
    if (from === 1) {
      const hit = await cacheGet(url).catch(() => null);
      if (hit && engine.keysFromCache(hit.body, hit.remainingMs, Date.now())) return;
    }
    const { body, cacheControl } = await fetchSet(url);
    const { ttl, lines } = JSON.parse(engine.keysFromIdp(body, cacheControl ?? undefined, Date.now()));
    for (const line of lines) console.log(line);
    // Best effort: a failed cache write only costs another fetch elsewhere.
    if (ttl > 0) await cachePut(url, body, ttl).catch(() => {});
  } catch (e) {
    console.log(engine.keysFailed(String(e?.message ?? e)));
  }
}

function fetchSet(url) {
  return fetchCapped(url, { accept: 'application/json', cap: MAX_JWKS_BYTES, what: 'the JWK Set', who: 'the IdP' });
}

/**
 * GET `url` with a timeout; a 200 answer's body as UTF-8 text of at most `cap` bytes (see
 * readCapped), with its Cache-Control. `what`/`who` name the document and the server in errors.
 * `init`: extra fetch options.
 */
export async function fetchCapped(url, { accept, cap, what, who, init = {} }) {
  let resp;
  try {
    resp = await fetch(url, { headers: { accept }, signal: AbortSignal.timeout(FETCH_TIMEOUT_MS), ...init });
  } catch (e) {
    throw new Error(`fetch failed: ${e?.message ?? 'network error'}`);
  }
  if (resp.status !== 200) {
    resp.body?.cancel().catch(() => {});
    throw new Error(`${who} answered ${resp.status}`);
  }
  return { body: decodeText(await readCapped(resp, cap, what), what), cacheControl: resp.headers.get('cache-control') };
}

/** `bytes` as UTF-8 text; anything else is refused. */
export function decodeText(bytes, what) {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new Error(`${what} is not UTF-8 text`);
  }
}

/**
 * The body, refused as soon as it is known to exceed `cap` bytes: by its Content-Length before
 * reading, or while streaming, cancelling the rest (a hostile IdP must not make every isolate read
 * tens of MiB). `what` names the document in errors.
 */
export async function readCapped(resp, cap, what = 'the JWK Set') {
  const tooLarge = () => new Error(`${what} is larger than ${cap} bytes`);
  const declared = Number(resp.headers.get('content-length') ?? NaN);
  if (declared > cap) {
    resp.body?.cancel().catch(() => {});
    throw tooLarge();
  }
  if (!resp.body) return new Uint8Array(0);
  const reader = resp.body.getReader();
  const chunks = [];
  let size = 0;
  for (;;) {
    let chunk;
    try {
      chunk = await reader.read();
    } catch {
      throw new Error(`reading ${what} failed`);
    }
    if (chunk.done) break;
    size += chunk.value.byteLength;
    if (size > cap) {
      reader.cancel().catch(() => {});
      throw tooLarge();
    }
    chunks.push(chunk.value);
  }
  const out = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) { out.set(c, at); at += c.byteLength; }
  return out;
}

/**
 * The location's copy of `url` (Workers Cache API), while it is fresh: `{ body, remainingMs }`.
 * The Cache API is a Workers API: without it (Node.js) there is no shared copy, only this engine's.
 */
export async function cacheGet(url) {
  if (typeof caches === 'undefined') return null;
  const hit = await caches.default.match(url);
  if (!hit) return null;
  const fetched = Number(hit.headers.get(FETCHED_AT));
  const maxAge = /^max-age=(\d+)$/.exec(hit.headers.get('cache-control') ?? '')?.[1];
  if (!Number.isFinite(fetched) || maxAge === undefined) return null;
  const remainingMs = fetched + Number(maxAge) * 1000 - Date.now();
  if (remainingMs <= 0) return null;
  return { body: await hit.text(), remainingMs };
}

/** Stores `body` as the location's copy of `url` for `ttl` seconds (where there is a Cache API). */
export async function cachePut(url, body, ttl) {
  if (typeof caches === 'undefined') return;
  return caches.default.put(url, new Response(body, {
    headers: { 'content-type': 'application/json', 'cache-control': `max-age=${ttl}`, [FETCHED_AT]: String(Date.now()) },
  }));
}
