// Gate overhead over HTTP on bare workerd (not `wrangler dev`, which caps throughput; see
// ../shared/notes/toolchain.md): passthrough Worker vs edgegate (build/index.js + index_bg.wasm)
// vs a minimal `jose` gate (jose-gate.mjs) vs a `jose` gate that keeps edgegate's request-path
// contract (jose-contract-gate.mjs), each served by `workerd serve` on 127.0.0.1 in front of the
// reference origin (echo mode), loaded with `wrk --latency` and a valid cookie token. Targets run
// one after the other in the same invocation; results are ratios to the passthrough.
// Usage: node benches/runtime/http/run.mjs [--quick] [--json out.json] [--duration 10s] [--targets passthrough,edgegate]
//          [--alg HS256|ES256|RS256]  token algorithm (default HS256); ES256/RS256 sign with a key pair
//                           made at start, whose public JWK (kid "k1") every gate gets as JWKS
//          [--before DIR]   DIR holds another build's index.js + index_bg.wasm (e.g. the commit before a
//                           change): measured as target `edgegate-before`, in the same run as the others
//          [--rounds N]     N rounds over all targets, interleaved (drift on a shared VM hits every target
//                           alike); each figure is the median of its N rounds
import { build } from 'esbuild';
import { spawn, execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { createHmac, createSign, generateKeyPairSync, randomBytes } from 'node:crypto';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '../../..');
const args = process.argv.slice(2);
const QUICK = args.includes('--quick');
const jsonOut = args.includes('--json') ? args[args.indexOf('--json') + 1] : null;
const opt = (name, dflt) => (args.includes(name) ? args[args.indexOf(name) + 1] : dflt);
const DURATION = opt('--duration', QUICK ? '2s' : '10s');
const WARMUP = QUICK ? '1s' : '2s';
const BEFORE = opt('--before', null);
const ROUNDS = Number(opt('--rounds', '1'));
const ONLY = opt('--targets', `passthrough,edgegate,edgegate-quiet,edgegate-revocation,jose-gate,jose-contract${BEFORE ? ',edgegate-before' : ''}`).split(',');
const ALG = opt('--alg', 'HS256');
if (!['HS256', 'ES256', 'RS256'].includes(ALG)) throw new Error(`--alg ${ALG}: HS256, ES256 or RS256`);
const WORKERD = path.join(ROOT, 'node_modules/.bin/workerd');
const ORIGIN_BIN = process.env.EDGEGATE_ORIGIN_BIN
  ?? [path.join(ROOT, 'target/release/edgegate-origin'), path.join(ROOT, 'target/debug/edgegate-origin')].find(existsSync);
const SECRET = randomBytes(32).toString('hex');
const ISS = 'https://id.example', AUD = 'edge';

const children = [];
function killAll() {
  for (const c of children) if (c.exitCode === null) { try { process.kill(-c.pid, 'SIGTERM'); } catch {} }
}
process.on('exit', killAll);
for (const s of ['SIGINT', 'SIGTERM']) process.on(s, () => { killAll(); process.exit(130); });

function start(cmd, argv, ready) {
  const child = spawn(cmd, argv, { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let out = '';
  const keep = (d) => { if (out.length < 65536) out += d; }; // drained always, kept only up to 64 KiB
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`${cmd} did not start: ${out}`)), 20_000);
    child.on('exit', (code) => { clearTimeout(t); reject(new Error(`${cmd} exited ${code}: ${out}`)); });
    const poll = async () => {
      const m = await ready(() => out);
      if (m) { clearTimeout(t); resolve({ child, m }); } else setTimeout(poll, 50);
    };
    poll();
  });
}

const freePort = () => new Promise((resolve) => {
  const s = net.createServer().listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => resolve(p)); });
});
const canConnect = (port) => new Promise((resolve) => {
  const s = net.connect(port, '127.0.0.1', () => { s.destroy(); resolve(true); });
  s.on('error', () => resolve(false));
});

// The gates' key material for ALG: HS256 signs with SECRET; ES256/RS256 with a fresh key pair whose
// public JWK (kid "k1") the gates get as a one-key JWKS.
const PAIR = ALG === 'ES256' ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
  : ALG === 'RS256' ? generateKeyPairSync('rsa', { modulusLength: 2048 }) : null;
const JWK = PAIR && { ...PAIR.publicKey.export({ format: 'jwk' }), kid: 'k1', alg: ALG, use: 'sig' };

function signJwt(payload, typ = 'JWT') {
  const b = (x) => Buffer.from(JSON.stringify(x)).toString('base64url');
  const input = `${b({ alg: ALG, typ, ...(JWK && { kid: JWK.kid }) })}.${b(payload)}`;
  const sig = ALG === 'HS256' ? createHmac('sha256', SECRET).update(input).digest()
    : createSign('sha256').update(input).sign(ALG === 'ES256' ? { key: PAIR.privateKey, dsaEncoding: 'ieee-p1363' } : PAIR.privateKey);
  return `${input}.${sig.toString('base64url')}`;
}

function capnp({ port, modules, vars }) {
  const str = (s) => JSON.stringify(s); // capnp text strings accept JSON escapes
  const mods = modules.map((m) => `(name = ${str(m.name)}, ${m.wasm ? 'wasm' : 'esModule'} = embed ${str(m.file)})`).join(', ');
  const binds = Object.entries(vars).map(([k, v]) => `(name = ${str(k)}, text = ${str(v)})`).join(', ');
  return `using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [
    (name = "main", worker = .worker),
    (name = "loopback", network = (allow = ["local"])),
  ],
  sockets = [(name = "http", address = "127.0.0.1:${port}", http = (), service = "main")],
);
const worker :Workerd.Worker = (
  modules = [${mods}],
  compatibilityDate = "2026-04-20",
  bindings = [${binds}],
  globalOutbound = "loopback",
);
`;
}

function parseWrk(out) {
  const unit = (v, u) => Number(v) * ({ us: 0.001, ms: 1, s: 1000 }[u]);
  const pct = (p) => { const m = new RegExp(`^\\s*${p}%\\s+([\\d.]+)(us|ms|s)\\s*$`, 'm').exec(out); return m ? unit(m[1], m[2]) : NaN; };
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1]);
  const non2xx = Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(out)?.[1] ?? 0);
  const errors = /Socket errors:.*/.exec(out)?.[0] ?? '';
  const requests = Number(/(\d+) requests in/.exec(out)?.[1]);
  return { rps, p50: pct(50), p99: pct(99), non2xx, errors, requests };
}

// CPU time (user + system, ms) a process has used so far (Linux /proc; clock ticks of 10 ms).
function cpuMs(pid) {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(f[11]) + Number(f[12])) * 10; // utime, stime (fields 14 and 15)
  } catch { return NaN; }
}

// Asynchronous on purpose: the event loop must keep draining the children's output pipes (the gate
// logs one decision line per request; a full pipe would stall workerd).
const wrk = async (url, dur, cookie) => (await promisify(execFile)('wrk', ['-t2', '-c16', `-d${dur}`, '--latency', '-H', `Cookie: ${cookie}`, url], { encoding: 'utf8' })).stdout;

async function main() {
  if (!ORIGIN_BIN) throw new Error('edgegate-origin missing: cargo build -p edgegate-origin');
  const tmp = mkdtempSync(path.join(tmpdir(), 'edgegate-bench-http-'));
  try {
    // Bundles: the JS baselines through esbuild; edgegate is build/ as built (already bundled).
    for (const [name, file] of [['passthrough', 'passthrough.mjs'], ['jose-gate', 'jose-gate.mjs'], ['jose-contract', 'jose-contract-gate.mjs']]) {
      await build({
        entryPoints: [path.join(HERE, file)], bundle: true, format: 'esm', platform: 'neutral',
        target: 'es2022', conditions: ['workerd', 'worker', 'browser'], mainFields: ['module', 'main'],
        outfile: path.join(tmp, name, 'index.js'), logLevel: 'warning',
      });
    }
    rmSync(path.join(tmp, 'edgegate'), { recursive: true, force: true });
    execFileSync('mkdir', ['-p', path.join(tmp, 'edgegate')]);
    copyFileSync(path.join(ROOT, 'build/index.js'), path.join(tmp, 'edgegate/index.js'));
    copyFileSync(path.join(ROOT, 'build/index_bg.wasm'), path.join(tmp, 'edgegate/index_bg.wasm'));
    if (BEFORE) {
      execFileSync('mkdir', ['-p', path.join(tmp, 'edgegate-before')]);
      for (const f of ['index.js', 'index_bg.wasm']) copyFileSync(path.join(path.resolve(BEFORE), f), path.join(tmp, 'edgegate-before', f));
    }

    const { m: originUrl } = await start(ORIGIN_BIN, ['serve', '--listen', '127.0.0.1:0'],
      async (out) => /listening on (http:\/\/\S+)/.exec(out())?.[1]);
    const keyVars = JWK ? { JWKS: JSON.stringify({ keys: [JWK] }) } : { JWT_SECRET: SECRET };
    const vars = { ORIGIN_URL: originUrl, ...keyVars, ALGORITHMS: ALG, ISSUER: ISS, AUDIENCE: AUD, PUBLIC_PATHS: '/health' };
    const now = Math.floor(Date.now() / 1000);
    const cookie = `theme=dark; access=${signJwt({ sub: 'alice', sid: 'f-alice', iss: ISS, aud: AUD, iat: now, exp: now + 3600, roles: ['reader'] })}; lang=en`;
    // A revocation list publisher for edgegate-revocation: 500 subject and 500 session entries
    // (none of them alice's), signed again on every fetch as the reference origin does.
    const entries = (prefix) => Object.fromEntries(Array.from({ length: 500 }, (_, i) => [`${prefix}-${i}`, now - i]));
    const revocations = http.createServer((req, res) => {
      const t = Math.floor(Date.now() / 1000);
      const doc = signJwt({ iss: ISS, iat: t, exp: t + 300, seq: now, subjects: entries('user'), sessions: entries('f') }, 'edgegate-revocations+jwt');
      res.writeHead(200, { 'content-type': 'application/jwt', 'cache-control': 'no-store' });
      res.end(doc);
    });
    await new Promise((r) => revocations.listen(0, '127.0.0.1', r));
    revocations.unref();
    const revocationUrl = `http://127.0.0.1:${revocations.address().port}/.well-known/edgegate-revocations`;

    const targets = [
      { name: 'passthrough', modules: [{ name: 'index.js', file: 'index.js' }] },
      { name: 'edgegate', modules: [{ name: 'index.js', file: 'index.js' }, { name: 'index_bg.wasm', file: 'index_bg.wasm', wasm: true }] },
      // The same gate with LOG_REQUESTS=denied: no decision line for forwarded requests (the
      // per-request console.log is a measurable share of the gate's CPU).
      { name: 'edgegate-quiet', dir: 'edgegate', vars: { LOG_REQUESTS: 'denied' }, modules: [{ name: 'index.js', file: 'index.js' }, { name: 'index_bg.wasm', file: 'index_bg.wasm', wasm: true }] },
      // The same gate checking every token against a published revocation list (1000 entries),
      // refreshed in the background every 5 s: what revocation costs on the request path.
      { name: 'edgegate-revocation', dir: 'edgegate', vars: { REVOCATION_URL: revocationUrl, REVOCATION_REFRESH_SECONDS: '5' }, modules: [{ name: 'index.js', file: 'index.js' }, { name: 'index_bg.wasm', file: 'index_bg.wasm', wasm: true }] },
      { name: 'jose-gate', modules: [{ name: 'index.js', file: 'index.js' }] },
      // jose with edgegate's request-path contract (path checks, CSRF, header stripping,
      // Cache-Control, decision log): what the contract costs in plain JS.
      { name: 'jose-contract', modules: [{ name: 'index.js', file: 'index.js' }] },
      { name: 'edgegate-before', modules: [{ name: 'index.js', file: 'index.js' }, { name: 'index_bg.wasm', file: 'index_bg.wasm', wasm: true }] },
    ].filter((t) => t.name !== 'edgegate-before' || BEFORE).filter((t) => t.name === 'passthrough' || ONLY.includes(t.name));
    const rounds = [];
    for (let round = 0; round < ROUNDS; round++) {
    const results = {};
    rounds.push(results);
    for (const t of targets) {
      const port = await freePort();
      const cfg = path.join(tmp, t.dir ?? t.name, `${t.name}.capnp`);
      writeFileSync(cfg, capnp({ port, modules: t.modules, vars: { ...vars, ...t.vars } }));
      // Cold start: workerd spawn → first 200 answer through the gate (process start, module
      // load, wasm compile + instantiate, first request). edgegate minus passthrough ≈ wasm start-up.
      const t0 = performance.now();
      const { child } = await start(WORKERD, ['serve', cfg], async () => canConnect(port));
      const url = `http://127.0.0.1:${port}/api/items?page=2`;
      const probe = await fetch(url, { headers: { cookie } });
      const body = await probe.text();
      const coldMs = performance.now() - t0;
      if (probe.status !== 200) throw new Error(`${t.name}: probe answered ${probe.status}: ${body.slice(0, 300)}`);
      await wrk(url, WARMUP, cookie);
      const cpu0 = cpuMs(child.pid);
      const out = await wrk(url, DURATION, cookie);
      const cpu = cpuMs(child.pid) - cpu0;
      const parsed = parseWrk(out);
      // workerd's own CPU per request: independent of how the 2 vCPUs were shared with wrk and
      // the origin, so the steadiest figure here.
      results[t.name] = { ...parsed, coldMs, cpuUsPerReq: (cpu * 1000) / parsed.requests };
      if (process.env.BENCH_DEBUG) process.stderr.write(out);
      if (results[t.name].non2xx) throw new Error(`${t.name}: ${results[t.name].non2xx} non-2xx responses under load`);
      process.kill(-child.pid, 'SIGTERM');
      await new Promise((r) => (child.exitCode !== null ? r() : child.on('exit', r)));
      process.stderr.write(`  http ${t.name}: ${results[t.name].rps.toFixed(0)} req/s, ${results[t.name].cpuUsPerReq.toFixed(0)} µs CPU/req\n`);
    }
    }
    // CPU added over the passthrough of the same round (paired), then per target and figure the
    // median over rounds.
    for (const r of rounds) for (const name of Object.keys(r)) r[name].cpuAddedUs = r[name].cpuUsPerReq - r.passthrough.cpuUsPerReq;
    const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };
    const results = {};
    for (const name of Object.keys(rounds[0])) {
      results[name] = {};
      for (const k of Object.keys(rounds[0][name])) {
        const xs = rounds.map((r) => r[name][k]);
        results[name][k] = typeof xs[0] === 'number' ? median(xs) : xs[0];
      }
    }
    const base = results.passthrough;
    const out = { rounds: ROUNDS, quick: QUICK, alg: ALG, duration: DURATION, wrk: '-t2 -c16 --latency', origin: ORIGIN_BIN, results };
    console.log(`Gate overhead over HTTP (bare workerd, wrk -t2 -c16 -d${DURATION}, ${ALG} cookie; origin ${path.relative(ROOT, ORIGIN_BIN)})`);
    console.log('target          |   req/s | ×pass | p50 ms | ×pass | p99 ms | ×pass | +p99 ms | workerd CPU µs/req | +µs/req | cold start ms');
    for (const [name, r] of Object.entries(results)) {
      r.rpsRatio = r.rps / base.rps; r.p50Ratio = r.p50 / base.p50; r.p99Ratio = r.p99 / base.p99; r.p99Added = r.p99 - base.p99;
      console.log(`${name.padEnd(15)} | ${r.rps.toFixed(0).padStart(7)} | ${r.rpsRatio.toFixed(2)} | ${r.p50.toFixed(2).padStart(6)} | ${r.p50Ratio.toFixed(2)} | ${r.p99.toFixed(2).padStart(6)} | ${r.p99Ratio.toFixed(2)} | ${r.p99Added.toFixed(2).padStart(7)} | ${r.cpuUsPerReq.toFixed(0).padStart(18)} | ${r.cpuAddedUs.toFixed(0).padStart(7)} | ${r.coldMs.toFixed(0)}`);
    }
    if (jsonOut) writeFileSync(jsonOut, JSON.stringify(out, null, 2));
  } finally {
    killAll();
    rmSync(tmp, { recursive: true, force: true });
  }
}

main().then(() => process.exit(0), (e) => { console.error(e); killAll(); process.exit(1); });
