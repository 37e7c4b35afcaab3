// Size and start-up: raw/gzip size of the gate wasm (build/index_bg.wasm), its JS shim, the
// browser module (www/pkg/edgegate_bg.wasm) and, for comparison, the esbuild bundle of the
// minimal `jose` gate (benches/runtime/http/jose-gate.mjs); plus `WebAssembly.compile` time of the
// gate wasm in Node (V8, like workerd), and compile+instantiate with stub imports when V8 accepts
// them (wasm-bindgen's start function is not run: no Workers globals in Node).
// Usage: node benches/runtime/size.mjs [--quick] [--json out.json]
import { build } from 'esbuild';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '../..');
const args = process.argv.slice(2);
const QUICK = args.includes('--quick');
const jsonOut = args.includes('--json') ? args[args.indexOf('--json') + 1] : null;
const REPS = QUICK ? 3 : 15;
const median = (xs) => { const s = [...xs].sort((a, b) => a - b); const m = s.length >> 1; return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2; };
const size = (buf) => ({ raw: buf.length, gzip: gzipSync(buf, { level: 9 }).length });

const sizes = {};
for (const [name, rel] of [
  ['gate wasm', 'build/index_bg.wasm'], ['gate JS shim', 'build/index.js'], ['browser wasm', 'www/pkg/edgegate_bg.wasm'], ['browser JS', 'www/pkg/edgegate.js'],
]) sizes[name] = existsSync(path.join(ROOT, rel)) ? { file: rel, ...size(readFileSync(path.join(ROOT, rel))) } : { file: rel, missing: true };
const jose = await build({
  entryPoints: [path.join(HERE, 'http/jose-gate.mjs')], bundle: true, minify: true, format: 'esm', platform: 'neutral',
  target: 'es2022', conditions: ['workerd', 'worker', 'browser'], mainFields: ['module', 'main'], write: false, logLevel: 'warning',
});
sizes['jose gate bundle (minified)'] = { file: 'esbuild of benches/runtime/http/jose-gate.mjs', ...size(Buffer.from(jose.outputFiles[0].contents)) };

const bytes = readFileSync(path.join(ROOT, 'build/index_bg.wasm'));
const compileMs = [], instMs = [];
let instError = null, compileError = null;
for (let i = 0; i < REPS && !compileError; i++) {
  const t0 = performance.now();
  let mod;
  // The gate wasm uses wasm-GC value types and exnref (try_table); Node 20's V8 (11.3) cannot
  // compile it at all. workerd can: see the cold-start column of benches/runtime/http/run.mjs.
  try { mod = await WebAssembly.compile(bytes); } catch (e) { compileError = String(e.message ?? e); break; }
  compileMs.push(performance.now() - t0);
  if (instError) continue;
  try {
    const imports = {};
    for (const imp of WebAssembly.Module.imports(mod)) {
      imports[imp.module] ??= {};
      imports[imp.module][imp.name] = imp.kind === 'function' ? () => { throw new Error('stub'); }
        : imp.kind === 'tag' ? (WebAssembly.JSTag ?? new WebAssembly.Tag({ parameters: ['externref'] }))
          : undefined;
    }
    const t1 = performance.now();
    await WebAssembly.instantiate(mod, imports);
    instMs.push(performance.now() - t1 + compileMs.at(-1));
  } catch (e) { instError = String(e.message ?? e); }
}
const out = { sizes, compileMs: compileError ? null : median(compileMs), compileError, compileInstantiateMs: instError ? null : median(instMs), instError, reps: REPS, node: process.version };
if (jsonOut) writeFileSync(jsonOut, JSON.stringify(out, null, 2));
const kb = (n) => (n / 1024).toFixed(1);
console.log('Size (KiB)                     |    raw |  gzip -9');
for (const [name, s] of Object.entries(sizes)) console.log(`${name.padEnd(30)} | ${s.missing ? 'missing (scripts/build-browser.sh)' : `${kb(s.raw).padStart(6)} | ${kb(s.gzip).padStart(8)}`}`);
if (compileError) console.log(`Node ${process.version}: WebAssembly.compile(build/index_bg.wasm) not possible: ${compileError.slice(0, 160)}`);
else console.log(`Node ${process.version}: WebAssembly.compile(build/index_bg.wasm) median of ${REPS}: ${out.compileMs.toFixed(1)} ms; ` +
  (instError ? `instantiate with stub imports failed: ${instError}` : `compile+instantiate (stub imports, start not run): ${out.compileInstantiateMs.toFixed(1)} ms`));
