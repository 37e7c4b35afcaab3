// One wasm decision in workerd, without HTTP around it: µs per `Engine.decide` call (HS256 cookie,
// forward, decision log line built) and per `console.log` of a decision line, from wall time seen by
// Node: (a request looping N − a request looping 0) / N, median of 5. Uses the build in target/edge-js/
// (scripts/build.sh).
//   node benches/runtime/decide/run.mjs [--n 3000] [--json f]
import { build } from 'esbuild';
import { Miniflare } from 'miniflare';
import { createHmac, randomBytes } from 'node:crypto';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '../../..');
const args = process.argv.slice(2);
const opt = (name, dflt) => (args.includes(name) ? args[args.indexOf(name) + 1] : dflt);
const N = Number(opt('--n', '3000'));
const jsonOut = opt('--json', null);
const STAGE = path.join(process.env.CARGO_TARGET_DIR ? path.resolve(process.env.CARGO_TARGET_DIR) : path.join(ROOT, 'target'), 'edge-js');

const tmp = mkdtempSync(path.join(tmpdir(), 'edgegate-decide-'));
try {
  copyFileSync(path.join(STAGE, 'wasm.js'), path.join(tmp, 'wasm.js'));
  copyFileSync(path.join(HERE, 'worker.mjs'), path.join(tmp, 'worker.mjs'));
  await build({ entryPoints: [path.join(tmp, 'worker.mjs')], bundle: true, format: 'esm', external: ['./index_bg.wasm'], outfile: path.join(tmp, 'out/index.js'), logLevel: 'warning' });
  const SECRET = randomBytes(32).toString('hex');
  const b = (x) => Buffer.from(JSON.stringify(x)).toString('base64url');
  const now = Math.floor(Date.now() / 1000);
  const input = `${b({ alg: 'HS256', typ: 'JWT' })}.${b({ sub: 'alice', iss: 'https://id.example', aud: 'edge', iat: now, exp: now + 3600, roles: ['reader'] })}`;
  const token = `${input}.${createHmac('sha256', SECRET).update(input).digest('base64url')}`;
  const mf = new Miniflare({
    modulesRoot: tmp,
    modules: [
      { type: 'ESModule', path: path.join(tmp, 'out/index.js'), contents: readFileSync(path.join(tmp, 'out/index.js')) },
      { type: 'CompiledWasm', path: path.join(tmp, 'out/index_bg.wasm'), contents: readFileSync(path.join(STAGE, 'index_bg.wasm')) },
    ],
    compatibilityDate: '2026-04-20',
    bindings: { ORIGIN_URL: 'http://127.0.0.1:9', JWT_SECRET: SECRET, ALGORITHMS: 'HS256', ISSUER: 'https://id.example', AUDIENCE: 'edge' },
    // Drained (the log loop writes thousands of lines).
    handleRuntimeStdio(stdout, stderr) { stdout.resume(); stderr.resume(); },
  });
  const cookie = `theme=dark; access=${token}; lang=en`;
  const timed = async (what, n) => {
    const t = performance.now();
    const res = await mf.dispatchFetch(`http://gate/?what=${what}&n=${n}`, { headers: { 'x-cookie': cookie } });
    const body = await res.text();
    return { ms: performance.now() - t, body };
  };
  const perCall = async (what) => {
    await timed(what, Math.min(N, 1000));
    const reps = [];
    for (let i = 0; i < 5; i++) {
      const zero = await timed(what, 0);
      const full = await timed(what, N);
      if (what === 'decide' && !full.body.startsWith('{"step":"forward"')) throw new Error(`unexpected step: ${full.body.slice(0, 200)}`);
      reps.push(((full.ms - zero.ms) / N) * 1000);
    }
    reps.sort((x, y) => x - y);
    return { median: reps[2], reps };
  };
  const decide = await perCall('decide');
  const log = await perCall('log');
  await mf.dispose();
  console.log(`One decision in workerd (µs per call, median of 5; N=${N}): Engine.decide ${decide.median.toFixed(1)} ` +
    `(${decide.reps.map((x) => x.toFixed(1)).join(' ')}); console.log of a decision line ${log.median.toFixed(1)} (${log.reps.map((x) => x.toFixed(1)).join(' ')})`);
  if (jsonOut) writeFileSync(jsonOut, JSON.stringify({ n: N, decide, log }, null, 2));
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
