// The built browser module (www/pkg/), loaded in Node exactly as shipped: its JS API, error
// codes, warnings, the "never verified" promise, its size budget and what it does not contain.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { WWW, fakeToken, b64u, requireBuiltModule } from './harness.mjs';

const PKG = path.join(WWW, 'pkg');
const mod = await import(pathToFileURL(requireBuiltModule()).href);
const wasmBytes = readFileSync(path.join(PKG, 'edgegate_bg.wasm'));
mod.initSync({ module: wasmBytes });
const { decode, isExpired } = mod;

const NOW = 1_700_000_000;

/** Calls `fn` and returns what it threw (failing if it did not throw). */
function thrown(fn) {
  try {
    fn();
  } catch (e) {
    return e;
  }
  assert.fail('expected a throw');
}

test('decodes header, claims and times; verified is always false', () => {
  const t = fakeToken({ sub: 'alice', name: 'Alice', iat: NOW - 60, nbf: NOW - 60, exp: NOW + 240 });
  const r = decode(t, { now: NOW });
  assert.equal(r.verified, false);
  assert.deepEqual(r.header, { alg: 'HS256', typ: 'JWT' });
  assert.deepEqual(r.claims, { sub: 'alice', name: 'Alice', iat: NOW - 60, nbf: NOW - 60, exp: NOW + 240 });
  assert.deepEqual(Object.keys(r.claims), ['sub', 'name', 'iat', 'nbf', 'exp'], 'key order kept');
  assert.equal(r.issuedAt, NOW - 60);
  assert.equal(r.notBefore, NOW - 60);
  assert.equal(r.expiresAt, NOW + 240);
  assert.equal(r.expiresIn, 240);
  assert.equal(r.expired, false);
  assert.equal(r.notYetValid, false);
  assert.equal(r.lifetime, 300);
  assert.equal(r.tokenBytes, t.length);
  assert.equal(r.signatureBytes, 'not-a-real-signature'.length);
  assert.deepEqual(r.warnings, []);
  assert.deepEqual(Object.keys(r), [
    'verified', 'header', 'claims', 'issuedAt', 'notBefore', 'expiresAt', 'expiresIn', 'expired',
    'notYetValid', 'lifetime', 'tokenBytes', 'signatureBytes', 'warnings',
  ]);
});

test('now defaults to Date.now()', () => {
  const now = Math.floor(Date.now() / 1000);
  const r = decode(fakeToken({ exp: now + 100 }));
  assert.ok(r.expiresIn > 95 && r.expiresIn <= 100, `expiresIn ${r.expiresIn}`);
  assert.equal(isExpired(fakeToken({ exp: now - 1 })), true);
  assert.equal(isExpired(fakeToken({ exp: now + 100 })), false);
});

test('absent times are null; expired and not-yet-valid tokens say so', () => {
  const r = decode(fakeToken({ sub: 'a', exp: NOW - 5, nbf: NOW + 5 }), { now: NOW });
  assert.equal(r.issuedAt, null);
  assert.equal(r.lifetime, null);
  assert.equal(r.expiresIn, -5);
  assert.equal(r.expired, true);
  assert.equal(r.notYetValid, true);
});

test('isExpired(token, leewaySeconds, now) follows the gate rule; negative leeway = expires within', () => {
  const t = fakeToken({ exp: 1000 });
  assert.equal(isExpired(t, 0, 999), false);
  assert.equal(isExpired(t, 0, 1000), true);
  assert.equal(isExpired(t, 30, 1029), false);
  assert.equal(isExpired(t, 30, 1030), true);
  assert.equal(isExpired(t, -60, 940), true);
  assert.equal(isExpired(t, undefined, 999), false);
  assert.equal(isExpired(fakeToken({ sub: 'no exp' }), 0, 1e10), false);
  assert.equal(thrown(() => isExpired('nope', 0, 0)).code, 'malformed');
});

test('malformed input throws a DecodeError with a stable code (and the part at fault)', () => {
  const h = b64u('{"alg":"HS256"}');
  const p = b64u('{"sub":"a"}');
  const cases = [
    ['', 'malformed', null],
    ['garbage', 'malformed', null],
    [`${h}.${p}`, 'malformed', null],
    [`${h}.${p}.x.y`, 'malformed', null],
    [`${h}.${p}.a.b.c`, 'encrypted_token', null],
    ['a'.repeat(8193), 'token_too_large', null],
    [`${h}=.${p}.c2ln`, 'bad_base64', 'header'],
    [`${h}.${p}.c2l+`, 'bad_base64', 'signature'],
    [fakeToken('[1]'), 'bad_json', 'payload'],
    [fakeToken('{}', { header: 'not json' }), 'bad_json', 'header'],
    [fakeToken('{"role":"user","role":"admin"}'), 'duplicate_json_key', 'payload'],
  ];
  for (const [token, code, part] of cases) {
    const e = thrown(() => decode(token, { now: NOW }));
    assert.ok(e instanceof Error, code);
    assert.equal(e.name, 'DecodeError', code);
    assert.equal(e.code, code, token.slice(0, 40));
    assert.equal(e.part, part, code);
    assert.match(e.message, new RegExp(code));
  }
  for (const notAString of [undefined, null, 42, {}, ['a.b.c']]) {
    assert.equal(thrown(() => decode(notAString)).code, 'malformed');
  }
});

test('alg none decodes, with a warning', () => {
  const r = decode(fakeToken({ sub: 'mallory', exp: NOW + 60 }, { header: { alg: 'none' }, signature: '' }), { now: NOW });
  assert.equal(r.verified, false);
  assert.equal(r.claims.sub, 'mallory');
  assert.deepEqual(r.warnings.map((w) => [w.code, w.path]), [['alg_none', 'header.alg']]);
});

test('the warnings a security reviewer wants', () => {
  const codes = (token, opts = {}) => decode(token, { now: NOW, ...opts }).warnings.map((w) => `${w.code}@${w.path}`);
  assert.deepEqual(codes(fakeToken({ sub: 'a' })), ['missing_exp@claims.exp']);
  assert.deepEqual(codes(fakeToken({ iat: NOW, exp: NOW + 3600 })), ['long_lifetime@claims.exp']);
  assert.deepEqual(codes(fakeToken({ iat: NOW, exp: NOW + 3600 }), { maxAccessLifetime: 3600 }), []);
  assert.deepEqual(codes(fakeToken({ iat: NOW, exp: NOW + 3600 }), { accessToken: false }), []);
  assert.deepEqual(
    codes(fakeToken({ exp: NOW + 60 }, { header: { alg: 'RS256', jku: 'https://evil.example/jwks', x5u: 'https://e/x', jwk: { kty: 'RSA' } } })),
    ['untrusted_key_header@header.jku', 'untrusted_key_header@header.x5u', 'untrusted_key_header@header.jwk'],
  );
  assert.deepEqual(
    codes(fakeToken({ exp: NOW + 60, password: 'hunter2', client_secret: 'x', pay: { pan: '4111 1111 1111 1111' }, email: 'a@example.com' })),
    // Claims are scanned depth-first in sorted key order (stable, whatever the token's order).
    ['sensitive_claim@claims.client_secret', 'sensitive_claim@claims.password', 'sensitive_claim@claims.pay.pan'],
  );
  assert.ok(codes(fakeToken({ exp: NOW + 60, email: 'a@example.com' }), { flagEmails: true }).includes('sensitive_claim@claims.email'));
  const big = fakeToken({ exp: NOW + 60, pad: 'x'.repeat(4000) });
  assert.deepEqual(codes(big), ['oversize_token@null']);
  assert.deepEqual(codes(fakeToken({ exp: '1700000060' })), ['invalid_claim@claims.exp']);
  for (const w of decode(big, { now: NOW }).warnings) assert.equal(typeof w.message, 'string');
});

test('never traps on hostile input: every failure is a DecodeError', () => {
  let seed = 42;
  const rand = (n) => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed % n; };
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.=+/ {}"\u00e9\ud83d\ude00\u0000';
  const base = fakeToken({ sub: 'a', exp: NOW, nested: { card: '4111111111111111', list: [1, 'x', null] } });
  let decoded = 0;
  for (let i = 0; i < 3000; i++) {
    const chars = [...base];
    for (let k = 0; k <= rand(4); k++) {
      const at = rand(chars.length + 1);
      const c = alphabet[rand(alphabet.length)];
      const op = rand(3);
      if (op === 0) chars[at] = c; else if (op === 1) chars.splice(at, 1); else chars.splice(at, 0, c);
    }
    const t = chars.join('');
    try {
      const r = decode(t, { now: NOW });
      assert.equal(r.verified, false);
      decoded++;
    } catch (e) {
      assert.equal(e.name, 'DecodeError', `${e}`);
    }
  }
  assert.ok(decoded > 0);
  // Still alive after all that.
  assert.equal(decode(base, { now: NOW }).claims.sub, 'a');
});

test('package: npm-ready ES module with types, and its docs say it never verifies', () => {
  const pkg = JSON.parse(readFileSync(path.join(PKG, 'package.json'), 'utf8'));
  assert.equal(pkg.type, 'module');
  assert.equal(pkg.main, './edgegate.js');
  assert.equal(pkg.types, './edgegate.d.ts');
  assert.equal(pkg.exports['.'].default, './edgegate.js');
  for (const f of pkg.files) readFileSync(path.join(PKG, f));
  const dts = readFileSync(path.join(PKG, 'edgegate.d.ts'), 'utf8');
  assert.match(dts, /export function decode\(token: string, options\?: DecodeOptions\): DecodeResult;/);
  assert.match(dts, /export function isExpired\(token: string, leewaySeconds\?: number \| null, now\?: number \| null\): boolean;/);
  assert.match(dts, /verified: false;/);
  assert.match(dts, /without verifying it/i);
  assert.match(dts, /Decoding is not verifying/);
  assert.match(dts, /code: DecodeErrorCode;/);
});

test('small, and carries no signing, verifying or worker code', () => {
  const gz = gzipSync(wasmBytes, { level: 9 }).length;
  console.log(`edgegate_bg.wasm: ${wasmBytes.length} bytes raw, ${gz} bytes gzip`);
  assert.ok(gz <= 60 * 1024, `wasm is ${gz} bytes gzipped; budget 60 KiB`);
  // Panic locations name the crates that are linked: none of these may appear.
  const text = wasmBytes.toString('latin1');
  for (const crate of ['jsonwebtoken', 'rsa-0', 'p256-', 'p384-', 'ed25519', 'hmac-', 'sha2-', 'worker-0', 'web-sys', 'getrandom']) {
    assert.ok(!text.includes(crate), `wasm mentions ${crate}`);
  }
  // Imports: only wasm-bindgen's glue to plain JS (Date, JSON, Reflect, Error), no fetch/crypto.
  const imports = WebAssembly.Module.imports(new WebAssembly.Module(wasmBytes));
  for (const i of imports) {
    assert.equal(i.module, './edgegate_bg.js');
    assert.doesNotMatch(i.name, /fetch|crypto|subtle|request|response|websocket|xmlhttp|storage|cookie/i, i.name);
  }
});
