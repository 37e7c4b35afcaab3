#!/usr/bin/env node
// Generates tests/fixtures/jws.json: one key pair per JWS algorithm and tokens signed with them by
// an implementation independent of edgegate (Node's own crypto, i.e. OpenSSL), so the Rust
// verifier is tested against signatures it did not produce. Committed, so CI never regenerates
// it: run `node scripts/gen-fixtures.mjs` only to refresh the fixtures on purpose.
import { generateKeyPairSync, sign, randomBytes, createHmac } from 'node:crypto';
import { writeFileSync } from 'node:fs';

const b64u = (x) => Buffer.from(x).toString('base64url');
const EXP = 4102444800; // 2100-01-01: far from expiring, within any sane lifetime check off

const ALGS = [
  ['RS256', 'rsa', { modulusLength: 2048 }, 'sha256', {}],
  ['RS384', 'rsa', { modulusLength: 2048 }, 'sha384', {}],
  ['RS512', 'rsa', { modulusLength: 2048 }, 'sha512', {}],
  ['PS256', 'rsa', { modulusLength: 2048 }, 'sha256', { pss: 32 }],
  ['PS384', 'rsa', { modulusLength: 2048 }, 'sha384', { pss: 48 }],
  ['PS512', 'rsa', { modulusLength: 2048 }, 'sha512', { pss: 64 }],
  ['ES256', 'ec', { namedCurve: 'P-256' }, 'sha256', { ieee: true }],
  ['ES384', 'ec', { namedCurve: 'P-384' }, 'sha384', { ieee: true }],
  ['EdDSA', 'ed25519', {}, null, {}],
];

const keys = [];
const tokens = [];
for (const [alg, type, opts, hash, extra] of ALGS) {
  const { publicKey, privateKey } = generateKeyPairSync(type, opts);
  const kid = `${alg.toLowerCase()}-${b64u(randomBytes(4))}`;
  const jwk = { ...publicKey.export({ format: 'jwk' }), kid, use: 'sig', alg };
  keys.push(jwk);
  const header = { alg, typ: 'JWT', kid };
  const payload = { sub: `user-${alg}`, iat: 1700000000, exp: EXP, iss: 'https://id.example', aud: 'edge' };
  const input = `${b64u(JSON.stringify(header))}.${b64u(JSON.stringify(payload))}`;
  const keyOpts = { key: privateKey };
  if (extra.pss) Object.assign(keyOpts, { padding: 6 /* RSA_PKCS1_PSS_PADDING */, saltLength: extra.pss });
  if (extra.ieee) keyOpts.dsaEncoding = 'ieee-p1363';
  const sig = sign(hash, Buffer.from(input), keyOpts);
  const token = `${input}.${b64u(sig)}`;
  tokens.push({ alg, kid, sub: payload.sub, token });
}

// HMAC: one random secret per hash, as long as its output (RFC 7518 §3.2), published as an
// `oct` JWK (inline JWKS only).
for (const [alg, hash, size] of [['HS256', 'sha256', 32], ['HS384', 'sha384', 48], ['HS512', 'sha512', 64]]) {
  const secret = randomBytes(size);
  const kid = `${alg.toLowerCase()}-${b64u(randomBytes(4))}`;
  keys.push({ kty: 'oct', k: b64u(secret), kid, alg, use: 'sig' });
  const header = { alg, typ: 'JWT', kid };
  const payload = { sub: `user-${alg}`, iat: 1700000000, exp: EXP, iss: 'https://id.example', aud: 'edge' };
  const input = `${b64u(JSON.stringify(header))}.${b64u(JSON.stringify(payload))}`;
  tokens.push({ alg, kid, sub: payload.sub, token: `${input}.${createHmac(hash, secret).update(input).digest('base64url')}` });
}

const out = {
  generated_by: 'scripts/gen-fixtures.mjs (Node crypto / OpenSSL)',
  claims: { iss: 'https://id.example', aud: 'edge', exp: EXP },
  jwks: { keys },
  tokens,
};
writeFileSync(new URL('../tests/fixtures/jws.json', import.meta.url), `${JSON.stringify(out, null, 2)}\n`);
console.log(`wrote ${tokens.length} tokens and ${keys.length} keys to tests/fixtures/jws.json`);
