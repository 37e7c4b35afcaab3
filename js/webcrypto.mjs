// Public-key signatures through the runtime's WebCrypto (BoringSSL in workerd): 20–60× cheaper than
// pure-Rust RSA/ECDSA/Ed25519 in wasm. The core decides which keys to try and has already refused
// anything of the wrong shape (pinned alg, family-bound key, kid rule, exact signature length); this
// module only imports keys (once per isolate) and runs `crypto.subtle.verify`. Any runtime error is
// "not a match".
import { Engine } from './wasm.js';

const HASH = { 256: 'SHA-256', 384: 'SHA-384', 512: 'SHA-512' };

/** The importKey and verify parameters for a JWS `alg`. */
function params(alg) {
  const bits = alg.slice(2);
  switch (alg.slice(0, 2)) {
    case 'RS': return [{ name: 'RSASSA-PKCS1-v1_5', hash: HASH[bits] }, { name: 'RSASSA-PKCS1-v1_5' }];
    // RFC 7518 §3.5: salt length = hash length.
    case 'PS': return [{ name: 'RSA-PSS', hash: HASH[bits] }, { name: 'RSA-PSS', saltLength: bits / 8 }];
    case 'ES': {
      const curve = bits === '256' ? 'P-256' : 'P-384';
      return [{ name: 'ECDSA', namedCurve: curve }, { name: 'ECDSA', hash: HASH[bits] }];
    }
    case 'Ed': return [{ name: 'Ed25519' }, { name: 'Ed25519' }];
    default: return null;
  }
}

export function b64urlBytes(s) {
  const bin = atob(s.replace(/-/g, '+').replace(/_/g, '/'));
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/**
 * Imports a key described by the core (`{"format":"jwk"|"raw","key":…,"label":…}`); null when
 * the runtime refuses it (`onRefused(label, problem)` is told).
 */
export async function importKey(description, alg, onRefused) {
  const p = params(alg);
  if (!p) return null;
  const { format, key, label } = JSON.parse(description);
  try {
    return await crypto.subtle.importKey(format, format === 'raw' ? b64urlBytes(key) : key, p[0], false, ['verify']);
  } catch (e) {
    onRefused?.(label, String(e?.message ?? e));
    return null;
  }
}

export async function verifyWith(key, alg, signature, message) {
  if (!key) return false;
  try {
    return (await crypto.subtle.verify(params(alg)[1], key, signature, message)) === true;
  } catch {
    return false;
  }
}

// Imported keys per engine, by the core's key reference (`c0`, `r3.1`): a reference names one key
// of that engine for its life, so a rotated-out remote key is simply never asked for again. Bounded.
const MAX_CACHED = 64;
const imported = new WeakMap();
const encoder = new TextEncoder();

/**
 * Answers a signature question of the core (`{"step":"signature",alg,keys,message,signature}`) with
 * `engine`'s keys; returns the answers so far plus these, as the core reads them (`ref=1,ref=0`).
 */
export async function answer(engine, question, previous) {
  const message = encoder.encode(question.message);
  const signature = b64urlBytes(question.signature);
  const out = previous ? [previous] : [];
  let cache = imported.get(engine);
  if (!cache) imported.set(engine, (cache = new Map()));
  for (const ref of question.keys) {
    const id = `${question.alg}:${ref}`;
    let key = cache.get(id);
    if (key === undefined) {
      const description = engine.importKey(ref);
      key = description === undefined ? null : await importKey(description, question.alg, (label, problem) => {
        console.log(Engine.warningLine(`WebCrypto refused the ${question.alg} key ${label}: ${problem}; tokens signed with it are refused`));
      });
      if (cache.size >= MAX_CACHED) cache.delete(cache.keys().next().value);
      cache.set(id, key);
    }
    out.push(`${ref}=${(await verifyWith(key, question.alg, signature, message)) ? 1 : 0}`);
  }
  return out.join(',');
}
