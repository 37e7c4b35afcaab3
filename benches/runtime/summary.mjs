// Summary of a scripts/bench.sh run: reads target/bench/{native.txt,verify.json,http.json,revocation.json,size.json}
// and prints one table per part, with the targets (BENCHMARKS.md) and met / distance.
import { readFileSync, existsSync } from 'node:fs';
import path from 'node:path';

const dir = process.argv[2] ?? 'target/bench';
const read = (f) => (existsSync(path.join(dir, f)) ? readFileSync(path.join(dir, f), 'utf8') : null);
const j = (f) => { const s = read(f); return s ? JSON.parse(s) : null; };
const verdict = (ok) => (ok ? 'met' : 'NOT met');

// criterion: "<name>  time:   [lo mid hi]" (the name may sit on its own line before "time:")
const native = {};
const toUs = (v, u) => Number(v) * ({ ns: 0.001, 'µs': 1, us: 1, ms: 1000, s: 1e6 }[u]);
for (const m of (read('native.txt') ?? '').matchAll(/^(\S.*?)\s*(?:\n\s*)?time:\s+\[\S+ \S+ (\S+) (\S+) \S+ \S+\]/gm)) native[m[1].trim()] = toUs(m[2], m[3]);

const v = j('verify.json'), h = j('http.json'), s = j('size.json');
const ALGS = ['HS256', 'RS256', 'PS256', 'ES256', 'EdDSA'];
const f1 = (x) => (x == null || Number.isNaN(x) ? 'n/a' : x.toFixed(1));

console.log('\n=== edgegate benchmarks' + (v?.quick ? ' (--quick: tiny counts, indicative only)' : '') + ' ===\n');
console.log('Verify, µs per verification | native Rust | workerd: jose | @tsndr | edgegate (new token) | edgegate/jose | target | verdict | edgegate (seen token)');
for (const alg of ALGS) {
  const r = v?.results?.[alg];
  const ratio = r ? r.loop.edgegate / r.loop.jose : NaN;
  const target = alg === 'HS256' ? 0.5 : 1.0;
  console.log(`${alg.padEnd(27)} | ${f1(native[`verify/${alg}`]).padStart(11)} | ${f1(r?.loop.jose).padStart(13)} | ${f1(r?.loop.tsndr).padStart(6)} | ${f1(r?.loop.edgegate).padStart(20)} | ${(Number.isFinite(ratio) ? ratio.toFixed(2) + 'x' : 'n/a').padStart(13)} | ≤ ${target.toFixed(1)}x | ${Number.isFinite(ratio) ? verdict(ratio <= target) : '?'} | ${f1(r?.loop['edgegate-seen'])}`);
}
if (h) {
  console.log(`\nHTTP, bare workerd, wrk -t2 -c16 -d${h.duration}, ${h.rounds ?? 1} round(s), ${h.alg ?? 'HS256'} cookie | req/s | ×pass | p50 ms | ×pass | p99 ms | +p99 ms | workerd CPU µs/req | +µs | cold start ms`);
  for (const [name, r] of Object.entries(h.results)) {
    console.log(`${name.padEnd(58)} | ${r.rps.toFixed(0).padStart(5)} | ${r.rpsRatio.toFixed(2)} | ${r.p50.toFixed(2).padStart(6)} | ${r.p50Ratio.toFixed(2)} | ${r.p99.toFixed(2).padStart(6)} | ${r.p99Added.toFixed(2).padStart(7)} | ${r.cpuUsPerReq.toFixed(0).padStart(18)} | ${r.cpuAddedUs.toFixed(0).padStart(3)} | ${r.coldMs.toFixed(0)}`);
  }
  const e = h.results.edgegate, jose = h.results['jose-gate'];
  const cpu = jose ? e.cpuAddedUs / jose.cpuAddedUs : NaN;
  console.log(`target: added workerd CPU ≤ 0.75x the minimal jose gate's → ${Number.isFinite(cpu) ? cpu.toFixed(2) + 'x' : 'n/a'}, ${verdict(cpu <= 0.75)}; throughput ≥ 0.80x passthrough → ${e.rpsRatio.toFixed(2)}x, ${verdict(e.rpsRatio >= 0.8)}; cold start ≤ jose gate's + 10 ms → ${jose ? (e.coldMs - jose.coldMs).toFixed(0) + ' ms more, ' + verdict(e.coldMs <= jose.coldMs + 10) : 'n/a'}`);
}
const rv = j('revocation.json');
if (h?.results?.['edgegate-revocation'] && h.results.edgegate) {
  const on = h.results['edgegate-revocation'].cpuAddedUs, off = h.results.edgegate.cpuAddedUs;
  console.log(`revocation on vs off (edgegate-revocation vs edgegate): added workerd CPU ${on.toFixed(0)} vs ${off.toFixed(0)} µs/req (${(on - off >= 0 ? '+' : '') + (on - off).toFixed(0)} µs); target: no measurable difference`);
}
if (rv) {
  console.log(`\nRevocation delay, POST /auth/logout-all → first refused request (REVOCATION_REFRESH_SECONDS=${rv.refreshSeconds}, ${rv.trials.length} trials) | median ${rv.medianMs.toFixed(0)} ms | max ${rv.maxMs.toFixed(0)} ms | target ≤ ${rv.targetMs} ms | ${verdict(rv.maxMs <= rv.targetMs)}`);
}
if (s) {
  console.log('\nSize                           |   raw KiB | gzip KiB | target | verdict');
  for (const [name, x] of Object.entries(s.sizes)) {
    const target = name === 'gate wasm' ? 150 : name === 'browser wasm' ? 60 : null;
    const kb = (n) => (n / 1024).toFixed(1);
    console.log(`${name.padEnd(30)} | ${x.missing ? 'missing'.padStart(9) : kb(x.raw).padStart(9)} | ${x.missing ? '' : kb(x.gzip).padStart(8)} | ${target ? `≤ ${target} KB` : ''.padEnd(9)} | ${target && !x.missing ? `${verdict(x.gzip <= target * 1000)} (${(x.gzip / 1000).toFixed(1)} kB)` : ''}`);
  }
  console.log(s.compileError ? `WebAssembly.compile in Node ${s.node}: not possible (${s.compileError.slice(0, 90)}…); see the cold-start column above`
    : `WebAssembly.compile in Node ${s.node}: ${s.compileMs.toFixed(1)} ms`);
}
const other = Object.entries(native).filter(([k]) => !k.startsWith('verify/'));
if (other.length) {
  console.log('\nNative (criterion, µs)');
  for (const [k, x] of other) console.log(`${k.padEnd(58)} | ${f1(x)}`);
}
