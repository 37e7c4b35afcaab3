// Verify cost inside workerd (Miniflare API), side by side in one bench Worker (worker.mjs):
// edgegate's verifier (the gate module as built: build/index.js + index_bg.wasm, its exported
// `Verifier`, i.e. the worker's own verification path) against `jose` and
// `@tsndr/cloudflare-worker-jwt`.
//
// workerd may freeze its clocks between I/O (Spectre mitigation), so the figures are wall-clock time
// seen from Node (the in-Worker performance.now() delta is reported alongside, as a cross-check):
//   - loop:    one request running N verifications minus one running 0, divided by N (all three
//              libraries, the same method): the edgegate/jose ratio is loop over loop;
//   - per-req: median latency of requests that verify a token minus median latency of requests that
//              do not, interleaved in the same run. gate: the built gate's token path (cookie,
//              verify, identity headers, forward to the origin) minus its public path (forward
//              only); jose: /once?lib=jose minus /once?lib=none. Shows the whole token path's cost
//              and the method's noise floor.
import { Miniflare } from 'miniflare';
import { build } from 'esbuild';
import { readFileSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startGate, startOrigin } from '../../../tests/worker/harness.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '../../..');
const args = process.argv.slice(2);
const QUICK = args.includes('--quick');
const jsonOut = args.includes('--json') ? args[args.indexOf('--json') + 1] : null;
const opt = (name, dflt) => (args.includes(name) ? args[args.indexOf(name) + 1] : dflt);
// Usage: node benches/runtime/verify/run.mjs [--quick] [--json out.json] [--algs HS256,ES256] [--n N] [--m M] [--reps R]
const ALGS = opt('--algs', 'HS256,RS256,PS256,ES256,EdDSA').split(',');
const N_LOOP = Number(opt('--n', QUICK ? 50 : 1000));    // verifications per loop request
const M_REQ = Number(opt('--m', QUICK ? 20 : 300));      // requests per side (per-request method)
const REPS = Number(opt('--reps', QUICK ? 1 : 5));       // repetitions; the median is reported
const fixtures = JSON.parse(readFileSync(path.join(ROOT, 'tests/fixtures/jws.json'), 'utf8'));

const median = (xs) => { const s = [...xs].sort((a, b) => a - b); const m = s.length >> 1; return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2; };
const now = () => Number(process.hrtime.bigint()) / 1e6; // ms

async function timed(fn) { const t0 = now(); await fn(); return now() - t0; }

async function expectOk(res, what) {
  const body = await res.text();
  if (res.status !== 200) throw new Error(`${what}: ${res.status} ${body.slice(0, 300)}`);
  return body;
}

// Interleaved A/B latency: returns median(B) - median(A) in ms.
async function perRequestDiff(a, b, m) {
  const ta = [], tb = [];
  for (let i = 0; i < m; i++) {
    ta.push(await timed(a));
    tb.push(await timed(b));
  }
  return median(tb) - median(ta);
}

async function main() {
  const tmp = mkdtempSync(path.join(tmpdir(), 'edgegate-bench-verify-'));
  let mf, gate, origin;
  try {
    await build({
      entryPoints: [path.join(HERE, 'worker.mjs')],
      bundle: true, format: 'esm', platform: 'neutral', target: 'es2022',
      conditions: ['workerd', 'worker', 'browser'], mainFields: ['module', 'main'],
      // The gate module's wasm stays a separate CompiledWasm module, as in a deployment.
      external: ['./index_bg.wasm', 'cloudflare:workers'],
      outfile: path.join(tmp, 'bench.mjs'), logLevel: 'warning',
    });
    mf = new Miniflare({
      modules: [
        { type: 'ESModule', path: 'bench.mjs', contents: readFileSync(path.join(tmp, 'bench.mjs'), 'utf8') },
        { type: 'CompiledWasm', path: 'index_bg.wasm', contents: readFileSync(path.join(ROOT, 'build/index_bg.wasm')) },
      ],
      compatibilityDate: '2026-04-20',
    });
    const base = await mf.ready;
    const get = (p) => mf.dispatchFetch(new URL(p, base));

    origin = await startOrigin([], {}, { quiet: true });
    gate = await startGate({
      ORIGIN_URL: origin.url, ALGORITHMS: ALGS.join(','), JWKS: JSON.stringify(fixtures.jwks),
      ISSUER: fixtures.claims.iss, AUDIENCE: fixtures.claims.aud, PUBLIC_PATHS: '/health',
    }, { defaults: false });
    const gget = (p, tok) => gate.mf.dispatchFetch(`http://gate.test${p}`, tok ? { headers: { cookie: `access=${tok}` } } : {});

    const results = {};
    let clockAdvances = false;
    for (const alg of ALGS) {
      const tok = fixtures.tokens.find((t) => t.alg === alg).token;
      const r = { alg, loop: {}, inWorker: {}, perReq: {} };
      // warm-up: JIT, key import, isolate start; also checks every path answers 200.
      for (let i = 0; i < 5; i++) {
        await expectOk(await gget('/health'), 'edgegate public');
        await expectOk(await gget('/api/x', tok), `edgegate ${alg}`);
        await expectOk(await get(`/once?lib=jose&alg=${alg}`), `jose ${alg}`);
        await expectOk(await get(`/once?lib=edgegate&alg=${alg}`), `edgegate ${alg}`);
        await expectOk(await get('/once?lib=none'), 'none');
      }
      for (const lib of ['edgegate', 'edgegate-seen', 'jose', 'tsndr']) {
        const probe = await get(`/loop?lib=${lib}&alg=${alg}&n=5`);
        if (probe.status === 501) { await probe.text(); r.loop[lib] = null; continue; }
        await expectOk(probe, `${lib} ${alg}`);
        const reps = [], inReps = [];
        for (let k = 0; k < REPS; k++) {
          const t0 = await timed(async () => expectOk(await get(`/loop?lib=${lib}&alg=${alg}&n=0`), 'n=0'));
          let inWorker = 0;
          const tN = await timed(async () => { inWorker = JSON.parse(await expectOk(await get(`/loop?lib=${lib}&alg=${alg}&n=${N_LOOP}`), 'loop')).inWorkerMs; });
          if (inWorker > 0) clockAdvances = true;
          reps.push(((tN - t0) / N_LOOP) * 1000); // µs
          inReps.push((inWorker / N_LOOP) * 1000);
        }
        r.loop[lib] = median(reps);
        r.inWorker[lib] = median(inReps);
      }
      const eg = [], jo = [];
      for (let k = 0; k < REPS; k++) {
        eg.push(1000 * await perRequestDiff(
          async () => expectOk(await gget('/health'), 'public'),
          async () => expectOk(await gget('/api/x', tok), alg), M_REQ));
        jo.push(1000 * await perRequestDiff(
          async () => expectOk(await get('/once?lib=none'), 'none'),
          async () => expectOk(await get(`/once?lib=jose&alg=${alg}`), alg), M_REQ));
      }
      r.perReq.edgegate = median(eg);
      r.perReq.jose = median(jo);
      r.perReq.edgegateReps = eg; r.perReq.joseReps = jo;
      results[alg] = r;
      process.stderr.write(`  verify ${alg}: done\n`);
    }
    const out = { quick: QUICK, nLoop: N_LOOP, mReq: M_REQ, reps: REPS, workerClockAdvancesInLoop: clockAdvances, results };
    if (jsonOut) writeFileSync(jsonOut, JSON.stringify(out, null, 2));
    const f = (x) => (x == null ? 'n/a' : x.toFixed(1));
    console.log(`Verify cost in workerd (µs per verification; median of ${REPS} rep(s); loop N=${N_LOOP}, per-request M=${M_REQ}/side)`);
    console.log('alg    | edgegate loop | edgegate seen token | jose loop | @tsndr loop | edgegate/jose | jose in-Worker | gate token path per-req | jose per-req');
    for (const alg of ALGS) {
      const r = results[alg];
      r.ratioEdgegateOverJose = r.loop.edgegate / r.loop.jose;
      const ratio = r.ratioEdgegateOverJose.toFixed(2) + 'x';
      console.log(`${alg.padEnd(6)} | ${f(r.loop.edgegate).padStart(13)} | ${f(r.loop['edgegate-seen']).padStart(19)} | ${f(r.loop.jose).padStart(9)} | ${f(r.loop.tsndr).padStart(11)} | ${ratio.padStart(13)} | ${f(r.inWorker.jose).padStart(14)} | ${f(r.perReq.edgegate).padStart(23)} | ${f(r.perReq.jose).padStart(12)}`);
    }
    console.log(`performance.now() advanced inside the loop: ${clockAdvances ? 'yes' : 'no (workerd freezes clocks without I/O)'}`);
  } finally {
    await mf?.dispose().catch(() => {});
    await gate?.mf.dispose().catch(() => {});
    await origin?.stop();
    rmSync(tmp, { recursive: true, force: true });
  }
}

main().catch((e) => { console.error(e); process.exit(1); });
