// Test harness: the built worker inside workerd (Miniflare API) in front of the real reference
// origin process on 127.0.0.1. Nothing here stubs `fetch`: the worker's outbound requests reach
// the origin over TCP, and tests read what the origin saw from its request log.
//
// Tokens are minted here with node:crypto (an implementation independent of the Rust code).
import { Miniflare } from 'miniflare';
import http from 'node:http';
import { spawn } from 'node:child_process';
import { createHmac, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const ORIGIN_BIN = process.env.EDGEGATE_ORIGIN_BIN
  ?? path.join(ROOT, 'target', 'debug', 'edgegate-origin');
const WORKER = path.join(ROOT, 'build', 'index.js');

export const SECRET = randomBytes(32).toString('hex');
export const NOW = () => Math.floor(Date.now() / 1000);

/** base64url of a string or buffer. */
export const b64u = (x) => Buffer.from(x).toString('base64url');

/**
 * A compact JWS signed with HMAC. `header` and `payload` may be objects or raw JSON strings (for
 * malformed cases); `alg` picks the HMAC hash independently of what the header claims.
 */
export function hs(payload, { secret = SECRET, header = { alg: 'HS256', typ: 'JWT' }, hash = 'sha256' } = {}) {
  const h = typeof header === 'string' ? header : JSON.stringify(header);
  const p = typeof payload === 'string' ? payload : JSON.stringify(payload);
  const input = `${b64u(h)}.${b64u(p)}`;
  const sig = createHmac(hash, secret).update(input).digest('base64url');
  return `${input}.${sig}`;
}

/** A typical valid access token for `sub`. */
export function accessToken(sub = 'alice', extra = {}, opts = {}) {
  const now = NOW();
  return hs({ sub, iat: now, exp: now + 600, ...extra }, opts);
}

/**
 * Starts the reference origin; resolves to { url, log(), clearLog(), stop(), stderr }.
 * Without arguments it is the plain echo server. `args` are extra `serve` flags (e.g.
 * `['--reference', '--user', 'alice:pw', '--data-dir', dir]`), `env` extra environment variables
 * (e.g. `{ JWT_SECRET }`), and `listen` the address to bind (a restart can reuse the port).
 * The origin's stderr lines are collected in `stderr` (and echoed unless `quiet`). `stop()`
 * resolves once the process has exited.
 */
export async function startOrigin(args = [], env = {}, { listen = '127.0.0.1:0', quiet = false } = {}) {
  if (!existsSync(ORIGIN_BIN)) {
    throw new Error(`origin binary missing at ${ORIGIN_BIN}: run \`cargo build -p edgegate-origin\` (scripts/test.sh does)`);
  }
  const child = spawn(ORIGIN_BIN, ['serve', '--listen', listen, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
  });
  const stderr = [];
  let pendingErr = '';
  child.stderr.on('data', (d) => {
    if (!quiet) process.stderr.write(d);
    pendingErr += d.toString();
    const lines = pendingErr.split('\n');
    pendingErr = lines.pop();
    stderr.push(...lines.filter((l) => l.trim()));
  });
  const exited = new Promise((resolve) => child.on('exit', resolve));
  const url = await new Promise((resolve, reject) => {
    let buf = '';
    const timer = setTimeout(() => reject(new Error('origin did not start within 20 s')), 20_000);
    child.stdout.on('data', (d) => {
      buf += d.toString();
      const m = /listening on (http:\/\/\S+)/.exec(buf);
      if (m) { clearTimeout(timer); resolve(m[1]); }
    });
    child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`origin exited with ${code}: ${stderr.join('\n')}`)); });
  });
  return {
    url,
    stderr,
    async log() { return (await fetch(`${url}/__log`)).json(); },
    async clearLog() { await fetch(`${url}/__log`, { method: 'DELETE' }); },
    stop() { child.kill('SIGTERM'); return exited; },
  };
}

/**
 * Starts the worker in workerd with `vars` (merged over sensible test defaults). Console output
 * of the worker is collected in `logs` (one entry per line).
 */
export async function startGate(vars, { defaults = true, port, miniflare = {} } = {}) {
  const logs = [];
  let pending = '';
  const bindings = defaults
    ? { ALGORITHMS: 'HS256', JWT_SECRET: SECRET, PUBLIC_PATHS: '/health,/static/', ...vars }
    : { ...vars };
  for (const [k, v] of Object.entries(bindings)) if (v === undefined) delete bindings[k];
  const mf = new Miniflare({
    modules: true,
    scriptPath: WORKER,
    modulesRules: [
      { type: 'ESModule', include: ['**/*.js', '**/*.mjs'] },
      { type: 'CompiledWasm', include: ['**/*.wasm'], fallthrough: true },
    ],
    compatibilityDate: '2026-04-20',
    bindings,
    // A fixed port when a test needs to know the gate's URL up front (browser tests).
    ...(port ? { host: '127.0.0.1', port } : {}),
    ...miniflare,
    handleRuntimeStdio(stdout, stderr) {
      const collect = (d) => {
        pending += d.toString();
        const lines = pending.split('\n');
        pending = lines.pop();
        logs.push(...lines.filter((l) => l.trim()));
      };
      stdout.on('data', collect);
      stderr.on('data', collect);
    },
  });
  let base;
  try {
    base = await mf.ready;
  } catch (e) {
    await mf.dispose().catch(() => {}); // a runtime that failed to start must not keep the process alive
    throw e;
  }
  return {
    mf,
    logs,
    /**
     * A request over a plain HTTP/1.1 socket to workerd, with headers exactly as given (fetch
     * clients such as undici overwrite `Sec-Fetch-Mode` and refuse `Connection`).
     * Resolves to { status, headers (lower-case names; set-cookie as an array), body (Buffer) }.
     */
    raw(p, { method = 'GET', headers = {}, body } = {}) {
      return new Promise((resolve, reject) => {
        // The path is sent exactly as given (no URL resolution: `//admin` must stay a path).
        const url = new URL(base);
        // Node adds no Host header when headers come as a raw [name, value, ...] array.
        // The worker sees http://gate.test/... like dispatchFetch requests, unless a test says
        // otherwise (Node adds no Host header itself for a raw [name, value, ...] array).
        if (Array.isArray(headers)) {
          if (!headers.some((h, i) => i % 2 === 0 && /^host$/i.test(h))) headers = ['Host', 'gate.test', ...headers];
        } else if (!Object.keys(headers).some((h) => /^host$/i.test(h))) {
          headers = { host: 'gate.test', ...headers };
        }
        // A fresh connection per request: workerd may close a kept-alive connection after a
        // response that did not consume the request body.
        const req = http.request({ host: url.hostname, port: url.port, path: p, method, headers, agent: false }, (res) => {
          const chunks = [];
          res.on('data', (c) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
        });
        req.on('error', reject);
        req.end(body);
      });
    },
    fetch: (p, init = {}) => mf.dispatchFetch(new URL(p, 'http://gate.test').toString(), { redirect: 'manual', ...init }),
    dispose: () => mf.dispose(),
    /** Waits until a log line matching `pred` appears (console output is asynchronous). */
    async waitForLog(pred, ms = 5000) {
      const end = Date.now() + ms;
      while (Date.now() < end) {
        const hit = logs.find((l) => { try { return pred(JSON.parse(l.slice(l.indexOf('{')))); } catch { return false; } });
        if (hit) return JSON.parse(hit.slice(hit.indexOf('{')));
        await new Promise((r) => setTimeout(r, 25));
      }
      throw new Error(`no matching log line; got:\n${logs.join('\n')}`);
    },
  };
}

/** The echo body of an origin response. */
export async function echo(res) {
  const text = await res.text();
  try { return JSON.parse(text); } catch { throw new Error(`not an echo (status ${res.status}): ${text.slice(0, 200)}`); }
}

/** Header value of a [[name, value]] list (first match). */
export const header = (echoBody, name) => echoBody.headers.find(([n]) => n === name)?.[1];
/** All header names of a [[name, value]] list. */
export const headerNames = (echoBody) => echoBody.headers.map(([n]) => n);

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Polls `f` until it returns true (a deadline, not a timing assertion). */
export async function until(f, what, ms = 15_000) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await f()) return;
    await sleep(100);
  }
  throw new Error(`timed out waiting for ${what}`);
}

/**
 * Streams up to 64 MiB of `byte` into `res` (its head already written) in 64 KiB chunks with
 * backpressure: an "endless" body, which the gate must stop reading at its cap. Returns
 * `written()`, the bytes written so far, and `closed`, the count once the connection closes.
 */
export function streamEndless(res, byte = 0x20) {
  const chunk = Buffer.alloc(64 * 1024, byte);
  let written = 0;
  const closed = new Promise((r) => res.on('close', () => r(written)));
  const pump = () => {
    while (written < 64 * 1024 * 1024) {
      written += chunk.length;
      if (!res.write(chunk)) { res.once('drain', pump); return; }
    }
    res.end();
  };
  pump();
  return { written: () => written, closed };
}

/** The `typ` of a revocation document (docs/origin.md, "The revocation document"). */
export const REVOCATIONS_TYP = 'edgegate-revocations+jwt';

/** A revocation document: header and payload as given, HMAC-SHA256 with `secret`. */
export function hsDoc(payload, { secret = SECRET, header = { alg: 'HS256', typ: REVOCATIONS_TYP } } = {}) {
  const input = `${b64u(JSON.stringify(header))}.${b64u(JSON.stringify(payload))}`;
  return `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`;
}

/** A current revocation list (issued now, for five minutes) of version `seq`. */
export const revocationList = (seq, entries = {}) => ({ iat: NOW(), exp: NOW() + 300, seq, ...entries });

/**
 * A revocation list publisher on 127.0.0.1: `serve(handler)` replaces what it answers
 * (`(req, res) => …`); `doc(text)` serves `text` as application/jwt; `down()` answers 503;
 * `hits` counts requests; `url` is the list's URL.
 */
export async function startPublisher() {
  let handler = (req, res) => { res.writeHead(503); res.end(); };
  const p = {
    hits: 0,
    serve(h) { handler = h; },
    doc(text) { handler = (req, res) => { res.writeHead(200, { 'content-type': 'application/jwt' }); res.end(text); }; },
    down() { handler = (req, res) => { res.writeHead(503); res.end(); }; },
  };
  const server = http.createServer((req, res) => { p.hits++; handler(req, res); });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  p.url = `http://127.0.0.1:${server.address().port}/revocations`;
  p.close = () => { server.closeAllConnections(); return new Promise((r) => server.close(r)); };
  return p;
}
