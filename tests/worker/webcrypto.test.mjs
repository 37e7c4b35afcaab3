// The WebCrypto fast path against the reference, inside workerd.
//
// RSA, ECDSA and Ed25519 signatures are checked in the worker by crypto.subtle.verify (src/edge/webcrypto.rs);
// natively, and as the reference, by jsonwebtoken's rust_crypto backend. Here every Wycheproof
// primitive vector (RSASSA-PKCS1-v1_5, RSASSA-PSS, ECDSA P-256/P-384 in P1363 form, Ed25519) goes
// through the worker's own code (the module's `Verifier.checkSignature`, which imports the key the
// way a JWKS entry is imported) and must get the verdict rust_crypto gave the same vector
// (exported by `cargo test -p edgegate --test wycheproof` to target/tmp/differential/).
// A disagreement fails the test either way; the report line says which way.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync, sign } from 'node:crypto';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { Miniflare } from 'miniflare';
import { startGate, startOrigin } from './harness.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const TARGET = process.env.CARGO_TARGET_DIR ? path.resolve(ROOT, process.env.CARGO_TARGET_DIR) : path.join(ROOT, 'target');
const DIR = path.join(TARGET, 'tmp', 'differential');
const fixtures = JSON.parse(readFileSync(path.join(ROOT, 'tests/fixtures/jws.json')));
const ALL = 'HS256,HS384,HS512,RS256,RS384,RS512,PS256,PS384,PS512,ES256,ES384,EdDSA';

let mf;
let worker;
before(async () => {
  if (!existsSync(DIR) || readdirSync(DIR).length === 0) {
    // The reference verdicts come from the native test; produce them when this file runs alone.
    execFileSync('cargo', ['test', '-p', 'edgegate', '--test', 'wycheproof', '--quiet'], { cwd: ROOT, stdio: 'inherit' });
  }
  mf = new Miniflare({
    modules: true,
    modulesRoot: ROOT,
    scriptPath: path.join(ROOT, 'tests/worker/support/verifier-entry.mjs'),
    modulesRules: [
      { type: 'ESModule', include: ['**/*.js', '**/*.mjs'] },
      { type: 'CompiledWasm', include: ['**/*.wasm'], fallthrough: true },
    ],
    compatibilityDate: '2026-04-20',
    handleRuntimeStdio() {},
  });
  await mf.ready;
  worker = async (body) => {
    const r = await mf.dispatchFetch('http://verifier.test/', { method: 'POST', body: JSON.stringify(body) });
    assert.equal(r.status, 200, await r.clone().text());
    return r.json();
  };
});
after(async () => { await mf?.dispose(); });

describe('WebCrypto fast path = rust_crypto reference, on every Wycheproof vector', () => {
  const files = existsSync(DIR) ? readdirSync(DIR).filter((f) => f.endsWith('.json')).sort() : [];
  it('has the exported vectors (RSA PKCS#1, PSS, ECDSA P-256/P-384, Ed25519)', () => {
    // Generated in before() when missing; 17 files today.
    const names = readdirSync(DIR).filter((f) => f.endsWith('.json'));
    for (const want of ['Ed25519', 'EcdsaSecp256r1Sha256P1363', 'EcdsaSecp384r1Sha384P1363', 'Rsa2048Sha256-RS256', 'RsaPss2048Sha256Mgf1SaltLen32-PS256', 'RsaPss2048Sha256Mgf1SaltLen0-as-PS256']) {
      assert.ok(names.includes(`${want}.json`), `${want}.json missing in ${DIR}`);
    }
  });
  for (const file of files.length ? files : ['(none yet)']) {
    it(file, async () => {
      const { vectors } = JSON.parse(readFileSync(path.join(DIR, file)));
      assert.ok(vectors.length > 0);
      const fast = [];
      for (let i = 0; i < vectors.length; i += 200) fast.push(...await worker({ op: 'check', vectors: vectors.slice(i, i + 200) }));
      const wrong = [];
      let accepted = 0;
      vectors.forEach((v, i) => {
        if (typeof fast[i] !== 'boolean') wrong.push(`tc${v.tc}: ${fast[i]}`);
        else if (fast[i] !== v.reference) wrong.push(`tc${v.tc} (${v.label}): WebCrypto ${fast[i] ? 'ACCEPTS' : 'refuses'}, rust_crypto ${v.reference ? 'accepts' : 'refuses'}`);
        if (fast[i] === true) accepted += 1;
      });
      process.stderr.write(`\nwebcrypto differential ${file}: ${vectors.length} vectors, ${accepted} accepted, ${wrong.length} disagreements\n`);
      assert.deepEqual(wrong, [], `${file}: the fast path disagrees with rust_crypto`);
    });
  }
});

describe('the exported Verifier runs the worker path on the fixture tokens', () => {
  const vars = { ORIGIN_URL: 'http://127.0.0.1:9', ALGORITHMS: ALL, JWKS: JSON.stringify(fixtures.jwks), ISSUER: 'https://id.example', AUDIENCE: 'edge' };
  const flip = (token) => {
    const [h, p, s] = token.split('.');
    const sig = Buffer.from(s, 'base64url');
    sig[sig.length >> 1] ^= 1;
    return `${h}.${p}.${sig.toString('base64url')}`;
  };
  const swap = (token) => {
    const [h, , s] = token.split('.');
    const evil = Buffer.from(JSON.stringify({ sub: 'admin', exp: fixtures.claims.exp, iss: 'https://id.example', aud: 'edge' })).toString('base64url');
    return `${h}.${evil}.${s}`;
  };
  it('accepts every genuine token twice (imported key reused) and refuses every tampered one', async () => {
    const tokens = fixtures.tokens.flatMap((t) => [t.token, t.token, flip(t.token), swap(t.token)]);
    const out = await worker({ op: 'verify', vars, tokens });
    fixtures.tokens.forEach((t, i) => {
      assert.deepEqual(out[4 * i], { sub: t.sub }, `${t.alg} genuine`);
      assert.deepEqual(out[4 * i + 1], { sub: t.sub }, `${t.alg} genuine, second time`);
      assert.deepEqual(out[4 * i + 2], { error: 'bad_signature' }, `${t.alg} flipped signature bit`);
      assert.deepEqual(out[4 * i + 3], { error: 'bad_signature' }, `${t.alg} swapped payload`);
    });
  });
  it('refuses a signature of the right length made for another key of the same family', async () => {
    // RS256 token verified against the RS384 fixture key: same family, same modulus size.
    const rs256 = fixtures.tokens.find((t) => t.alg === 'RS256');
    const rs384Key = fixtures.jwks.keys.find((k) => k.kid.startsWith('rs384'));
    const [h, p, s] = rs256.token.split('.');
    const res = await worker({ op: 'check', vectors: [{ alg: 'RS256', jwk: JSON.stringify({ kty: 'RSA', n: rs384Key.n, e: rs384Key.e }), msg: Buffer.from(`${h}.${p}`).toString('base64url'), sig: s }] });
    assert.deepEqual(res, [false]);
  });
  it('refuses wrong-length ECDSA/Ed25519 signatures before WebCrypto sees them', async () => {
    for (const alg of ['ES256', 'ES384', 'EdDSA']) {
      const t = fixtures.tokens.find((x) => x.alg === alg);
      const key = fixtures.jwks.keys.find((k) => k.kid === t.kid);
      const [h, p, s] = t.token.split('.');
      const sig = Buffer.from(s, 'base64url');
      const jwk = JSON.stringify(Object.fromEntries(Object.entries(key).filter(([k]) => ['kty', 'crv', 'x', 'y'].includes(k))));
      const msg = Buffer.from(`${h}.${p}`).toString('base64url');
      const vectors = [sig, Buffer.concat([sig, Buffer.from([0])]), sig.subarray(1), Buffer.concat([Buffer.from([0]), sig])]
        .map((b) => ({ alg, jwk, msg, sig: b.toString('base64url') }));
      assert.deepEqual(await worker({ op: 'check', vectors }), [true, false, false, false], alg);
    }
  });
  it('reports configuration errors naming the key, and reason codes for bad tokens', async () => {
    const bad = await worker({ op: 'verify', vars: { ...vars, ALGORITHMS: 'none' }, tokens: [] });
    assert.match(bad.configError, /ALGORITHMS/);
    const codes = await worker({ op: 'verify', vars, tokens: ['', 'a.b', 'eyJhbGciOiJub25lIn0.e30.'] });
    assert.deepEqual(codes.map((c) => c.error), ['malformed', 'malformed', 'alg_none']);
  });
});

describe('CryptoKey cache and refused imports', () => {
  const es256 = (privateKey, kid, sub) => {
    const h = Buffer.from(JSON.stringify({ alg: 'ES256', kid })).toString('base64url');
    const p = Buffer.from(JSON.stringify({ sub, exp: Math.floor(Date.now() / 1000) + 600 })).toString('base64url');
    const sig = sign('sha256', Buffer.from(`${h}.${p}`), { key: privateKey, dsaEncoding: 'ieee-p1363' });
    return `${h}.${p}.${sig.toString('base64url')}`;
  };

  it(`keeps verifying correctly with more keys than the cache holds (${70} P-256 keys, twice round)`, async () => {
    const pairs = Array.from({ length: 70 }, (_, i) => ({ kid: `k${i}`, ...generateKeyPairSync('ec', { namedCurve: 'P-256' }) }));
    const jwks = { keys: pairs.map(({ kid, publicKey }) => ({ ...publicKey.export({ format: 'jwk' }), kid })) };
    const tokens = [...pairs, ...pairs].map(({ kid, privateKey }) => es256(privateKey, kid, `user-${kid}`));
    // A token signed by key i but naming key i+1 must fail even when both are cached.
    const crossed = es256(pairs[1].privateKey, 'k2', 'mallory');
    const out = await worker({ op: 'verify', vars: { ORIGIN_URL: 'http://127.0.0.1:9', ALGORITHMS: 'ES256', JWKS: JSON.stringify(jwks) }, tokens: [...tokens, crossed] });
    [...pairs, ...pairs].forEach(({ kid }, i) => assert.deepEqual(out[i], { sub: `user-${kid}` }, `token ${i} (${kid})`));
    assert.deepEqual(out.at(-1), { error: 'bad_signature' });
  });

  it('a remembered signature admits that exact token only (SIGNATURE_CACHE)', async () => {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const other = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const jwks = { keys: [{ ...publicKey.export({ format: 'jwk' }), kid: 'k' }] };
    const origin = await startOrigin([], {}, { quiet: true });
    for (const cache of ['1024', '0']) {
      const gate = await startGate({ ORIGIN_URL: origin.url, ALGORITHMS: 'ES256', JWKS: JSON.stringify(jwks), SIGNATURE_CACHE: cache }, { defaults: false });
      try {
        const good = es256(privateKey, 'k', 'alice');
        const [h, p, sig] = good.split('.');
        const forged = es256(other.privateKey, 'k', 'alice').split('.')[2];
        const evil = Buffer.from(JSON.stringify({ sub: 'mallory', exp: Math.floor(Date.now() / 1000) + 600 })).toString('base64url');
        const ask = async (token) => (await gate.fetch('/api/x', { headers: { cookie: `access=${token}` } }));
        for (let i = 0; i < 3; i++) assert.equal((await ask(good)).status, 200, `cache=${cache} round ${i}`);
        // The genuine signature on another payload, another signature on the genuine payload.
        for (const t of [`${h}.${evil}.${sig}`, `${h}.${p}.${forged}`]) {
          const res = await ask(t);
          assert.equal(res.status, 401, `cache=${cache}`);
          assert.deepEqual(await res.json(), { error: 'invalid_token' });
        }
      } finally {
        await gate.dispose();
      }
    }
    await origin.stop();
  });

  it('refuses tokens for a key the runtime will not import, and says so once in the log', async () => {
    // Right lengths, but not a point on P-256: the JWKS parser keeps it, WebCrypto refuses it.
    const bad = { kty: 'EC', crv: 'P-256', kid: 'bad', x: Buffer.alloc(32, 1).toString('base64url'), y: Buffer.alloc(32, 2).toString('base64url') };
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const origin = await startOrigin([], {}, { quiet: true });
    const gate = await startGate({ ORIGIN_URL: origin.url, ALGORITHMS: 'ES256', JWKS: JSON.stringify({ keys: [bad] }) }, { defaults: false });
    try {
      for (let i = 0; i < 3; i++) {
        const res = await gate.fetch('/api/x', { headers: { cookie: `access=${es256(privateKey, 'bad', 'u')}` } });
        assert.equal(res.status, 401);
        assert.deepEqual(await res.json(), { error: 'invalid_token' });
      }
      const line = await gate.waitForLog((l) => l.edgegate === 'config' && /WebCrypto refused the ES256 key "bad"/.test(l.problem));
      assert.equal(line.level, 'warn');
      await gate.waitForLog((l) => l.reason === 'bad_signature');
      assert.equal(gate.logs.filter((l) => l.includes('WebCrypto refused')).length, 1, 'logged once per isolate');
      assert.equal((await origin.log()).length, 0, 'nothing reached the origin');
    } finally {
      await gate.dispose();
      await origin.stop();
    }
  });
});
