// CPU profile of the gate inside workerd, through workerd's inspector (where BENCHMARKS.md's
// cost breakdowns come from). Not part of scripts/bench.sh: a tool for looking, not a number.
//
//   EDGEGATE_KEEP_WASM_NAMES=1 scripts/build.sh      # named wasm frames (otherwise wasm-function[N])
//   node benches/runtime/profile.mjs http [--quiet]  # the gate under wrk (HS256 cookie), LOG_REQUESTS=denied with --quiet
//   node benches/runtime/profile.mjs verify RS256    # the exported Verifier in a loop (benches/runtime/verify/worker.mjs)
//
// Prints the functions with the most self time and the most inclusive time (share of non-idle
// samples); writes the raw profile to target/bench/<mode>.cpuprofile (open it in Chrome DevTools).
import { build } from 'esbuild';
import { spawn, execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { createHmac, randomBytes } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const [mode = 'http', ...rest] = process.argv.slice(2);
const quiet = rest.includes('--quiet');
const alg = rest.find((a) => !a.startsWith('--')) ?? 'RS256';
const WORKERD = path.join(ROOT, 'node_modules/.bin/workerd');
const ORIGIN = [path.join(ROOT, 'target/release/edgegate-origin'), path.join(ROOT, 'target/debug/edgegate-origin')].find(existsSync);
const port = 18000 + Math.floor(Math.random() * 1000);
const inspector = port + 1000;
const tmp = mkdtempSync(path.join(tmpdir(), 'edgegate-profile-'));
const children = [];
const cleanup = () => { for (const c of children) { try { c.kill('SIGTERM'); } catch {} } rmSync(tmp, { recursive: true, force: true }); };
process.on('exit', cleanup);

const str = (s) => JSON.stringify(s);
function config(modules, bindings) {
  return `using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [(name = "main", worker = .worker), (name = "loopback", network = (allow = ["local"]))],
  sockets = [(name = "http", address = "127.0.0.1:${port}", http = (), service = "main")],
);
const worker :Workerd.Worker = (
  modules = [${modules.map(([n, wasm]) => `(name = ${str(n)}, ${wasm ? 'wasm' : 'esModule'} = embed ${str(n)})`).join(', ')}],
  compatibilityDate = "2026-04-20",
  bindings = [${Object.entries(bindings).map(([k, v]) => `(name = ${str(k)}, text = ${str(v)})`).join(', ')}],
  globalOutbound = "loopback",
);`;
}

const wait = (ms) => new Promise((r) => setTimeout(r, ms));
let load, secret, cookie, url;
if (mode === 'http') {
  if (!ORIGIN) throw new Error('build the origin first: cargo build -p edgegate-origin');
  secret = randomBytes(32).toString('hex');
  const originPort = port + 2000;
  children.push(spawn(ORIGIN, ['serve', '--listen', `127.0.0.1:${originPort}`], { stdio: 'ignore' }));
  copyFileSync(path.join(ROOT, 'build/index.js'), path.join(tmp, 'index.js'));
  copyFileSync(path.join(ROOT, 'build/index_bg.wasm'), path.join(tmp, 'index_bg.wasm'));
  writeFileSync(path.join(tmp, 'c.capnp'), config([['index.js'], ['index_bg.wasm', true]], {
    ORIGIN_URL: `http://127.0.0.1:${originPort}`, JWT_SECRET: secret, ALGORITHMS: 'HS256', PUBLIC_PATHS: '/health',
    ...(quiet ? { LOG_REQUESTS: 'denied' } : {}),
  }));
  const b = (x) => Buffer.from(JSON.stringify(x)).toString('base64url');
  const now = Math.floor(Date.now() / 1000);
  const input = `${b({ alg: 'HS256', typ: 'JWT' })}.${b({ sub: 'alice', iat: now, exp: now + 3600 })}`;
  cookie = `access=${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`;
  url = `http://127.0.0.1:${port}/api/items?page=2`;
  load = async (seconds) => (await promisify(execFile)('wrk', ['-t2', '-c16', `-d${seconds}s`, '-H', `Cookie: ${cookie}`, url])).stdout;
} else if (mode === 'verify') {
  await build({
    entryPoints: [path.join(ROOT, 'benches/runtime/verify/worker.mjs')], bundle: true, format: 'esm', platform: 'neutral',
    target: 'es2022', conditions: ['workerd', 'worker', 'browser'], mainFields: ['module', 'main'],
    external: ['./index_bg.wasm', 'cloudflare:workers'], outfile: path.join(tmp, 'bench.mjs'), logLevel: 'warning',
  });
  copyFileSync(path.join(ROOT, 'build/index_bg.wasm'), path.join(tmp, 'index_bg.wasm'));
  writeFileSync(path.join(tmp, 'c.capnp'), config([['bench.mjs'], ['index_bg.wasm', true]], {}));
  url = (n) => `http://127.0.0.1:${port}/loop?lib=edgegate&alg=${alg}&n=${n}`;
  load = async () => (await fetch(url(20000))).text();
} else {
  throw new Error(`unknown mode ${mode} (http | verify)`);
}

children.push(spawn(WORKERD, ['serve', path.join(tmp, 'c.capnp'), `--inspector-addr=127.0.0.1:${inspector}`], { stdio: ['ignore', 'ignore', 'inherit'] }));
for (let i = 0; i < 100; i++) { try { await fetch(`http://127.0.0.1:${inspector}/json`); break; } catch { await wait(100); } }
await wait(300);
if (mode === 'http') await load(2); else await (await fetch(url(3000))).text(); // warm-up: JIT and wasm tier-up

const [target] = await (await fetch(`http://127.0.0.1:${inspector}/json`)).json();
const ws = new WebSocket(target.webSocketDebuggerUrl);
await new Promise((r) => ws.on('open', r));
let id = 0;
const pending = new Map();
ws.on('message', (m) => { const d = JSON.parse(m); if (pending.has(d.id)) { pending.get(d.id)(d.result); pending.delete(d.id); } });
const call = (method, params = {}) => new Promise((r) => { pending.set(++id, r); ws.send(JSON.stringify({ id, method, params })); });
await call('Profiler.enable');
await call('Profiler.setSamplingInterval', { interval: 100 });
await call('Profiler.start');
const out = await load(5);
const { profile } = await call('Profiler.stop');
ws.close();
console.log(mode === 'http' ? /Requests\/sec:.*/.exec(out)?.[0] : out);

const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const name = (n) => (n.callFrame.functionName || '(anonymous)').slice(0, 110);
const inclusive = (n) => (n.total ??= n.hitCount + (n.children ?? []).reduce((a, c) => a + inclusive(byId.get(c)), 0));
const self = new Map(), incl = new Map();
const walk = (n, seen) => {
  const k = name(n);
  self.set(k, (self.get(k) ?? 0) + n.hitCount);
  if (!seen.has(k)) incl.set(k, (incl.get(k) ?? 0) + inclusive(n));
  const next = new Set(seen).add(k);
  for (const c of n.children ?? []) walk(byId.get(c), next);
};
walk(profile.nodes[0], new Set());
const busy = profile.nodes.reduce((a, n) => a + n.hitCount, 0) - (self.get('(idle)') ?? 0);
const top = (m, n) => [...m].filter(([k]) => !['(root)', '(idle)'].includes(k)).sort((a, b) => b[1] - a[1]).slice(0, n)
  .map(([k, v]) => `${((100 * v) / busy).toFixed(1).padStart(5)}%  ${k}`).join('\n');
console.log(`\nself time (share of ${busy} busy samples)\n${top(self, 25)}\n\ninclusive time\n${top(incl, 40)}`);
mkdirSync(path.join(ROOT, 'target/bench'), { recursive: true });
writeFileSync(path.join(ROOT, `target/bench/${mode}.cpuprofile`), JSON.stringify(profile));
process.exit(0);
