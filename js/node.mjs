// The Node.js form (`edgegate/node`): the same gate on `node:http`. The decision, the answers and
// the header stripping are the Worker's own modules; this file only adapts: an IncomingMessage
// becomes a fetch Request, a Response is written back to the ServerResponse, and the standalone
// form forwards over node:http(s) as a byte-for-byte proxy (Node's fetch would decompress bodies
// and keep their Content-Encoding). The wasm is read from the package folder and compiled here:
// `import module from './index_bg.wasm'` is a Workers bundler rule, not a Node one.
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { initSync } from './wasm.js';
import { engineFor, handle, internalError, reply } from './gate.mjs';
import { withGate } from './wrapper.mjs';

initSync({ module: new WebAssembly.Module(readFileSync(new URL('./index_bg.wasm', import.meta.url))) });

export { withGate, identityOf } from './wrapper.mjs';
export { edgegateHono } from './hono.mjs';
export { Verifier } from './verifier.mjs';

// Request headers up to this size in all (Node's default is 16 KiB, the gate's own Cookie limit:
// with more room the gate answers an oversized Cookie with its typed 431 itself).
export const MAX_HEADER_BYTES = 32 * 1024;
// Statuses whose response has no body (a Response refuses one).
const NULL_BODY = new Set([204, 205, 304]);
// Message framing and connection management: each side's HTTP layer owns its own.
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer', 'upgrade', 'expect']);
// A Host header this form accepts: a DNS name, IPv4 or [IPv6] literal, optional port.
const HOST = /^(?:[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?|\[[0-9A-Fa-f:.]{2,45}\])(?::\d{1,5})?$/;

/** The answer to a request that cannot be made a Request; the line says why (never the target: it may carry a token). */
function badRequest(problem) {
  console.log(JSON.stringify({ edgegate: 'node', level: 'warn', reason: 'bad_request', problem }));
  return reply({ status: 400, body: '{"error":"bad_request"}', type: 'application/json' });
}

/** `publicOrigin` checked: `scheme://host[:port]`, nothing more. */
function checkedOrigin(publicOrigin) {
  if (publicOrigin === undefined) return undefined;
  let url;
  try {
    url = new URL(publicOrigin);
  } catch {
    url = null;
  }
  if (!url || !/^https?:$/.test(url.protocol) || url.origin !== String(publicOrigin).replace(/\/$/, '')) {
    throw new TypeError(`edgegate/node: publicOrigin must be http(s)://host[:port] without a path, got ${JSON.stringify(publicOrigin)}`);
  }
  return url.origin;
}

/**
 * `{ request }`, the fetch Request for `req`, or `{ problem }` when it cannot be one safely: a
 * request target that is not a path (absolute form, `*`), or — without `publicOrigin` — a
 * missing, repeated or malformed Host. Headers are kept as sent, repeated ones joined as fetch
 * joins them (the gate then sees two cookies as two); the body is streamed, never buffered.
 */
function toRequest(req, publicOrigin) {
  const target = req.url;
  if (typeof target !== 'string' || !target.startsWith('/')) return { problem: 'the request target is not a path' };
  let base = publicOrigin;
  if (base === undefined) {
    const hosts = req.rawHeaders.filter((name, i) => i % 2 === 0 && /^host$/i.test(name));
    const host = req.headers.host;
    if (hosts.length !== 1 || typeof host !== 'string' || !HOST.test(host)) return { problem: 'Host header missing, repeated or malformed' };
    base = `${req.socket.encrypted ? 'https' : 'http'}://${host}`;
  }
  try {
    const headers = new Headers();
    for (let i = 0; i < req.rawHeaders.length; i += 2) {
      const name = req.rawHeaders[i].toLowerCase();
      // Node has already de-chunked the body; a forward frames it anew.
      if (name !== 'transfer-encoding') headers.append(name, req.rawHeaders[i + 1]);
    }
    const hasBody = req.method !== 'GET' && req.method !== 'HEAD'
      && (req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined);
    // Concatenated, not resolved against `base`: a target such as `//evil.example/x` stays a path.
    const request = new Request(base + target, {
      method: req.method,
      headers,
      body: hasBody ? Readable.toWeb(req) : null,
      duplex: 'half',
      redirect: 'manual',
    });
    return { request };
  } catch {
    return { problem: 'not a valid fetch Request (method, URL or a header value)' };
  }
}

/** The names a `Connection` header lists (they are hop-by-hop too). */
function connectionListed(value) {
  return new Set(String(value ?? '').split(',').map((t) => t.trim().toLowerCase()).filter(Boolean));
}

/**
 * The origin's answer to `request` (a forward step's, on ORIGIN_URL): sent over node:http(s) with
 * its headers (Host from the URL, hop-by-hop ones dropped) and streamed body; the response as
 * received — status, headers (every Set-Cookie), body bytes untouched — and redirects not followed.
 * Rejects when the origin cannot be reached (the gate answers 502).
 */
function originFetch(request) {
  const url = new URL(request.url);
  const headers = [];
  for (const [name, value] of request.headers) {
    if (name !== 'host' && !HOP_BY_HOP.has(name)) headers.push(name, value);
  }
  headers.push('host', url.host);
  const client = url.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const out = client.request(url, { method: request.method, headers }, (res) => {
      const listed = connectionListed(res.headers.connection);
      const h = new Headers();
      for (let i = 0; i < res.rawHeaders.length; i += 2) {
        const name = res.rawHeaders[i].toLowerCase();
        if (!HOP_BY_HOP.has(name) && !listed.has(name)) h.append(name, res.rawHeaders[i + 1]);
      }
      const empty = request.method === 'HEAD' || NULL_BODY.has(res.statusCode);
      if (empty) res.resume();
      const body = empty ? null : Readable.toWeb(res);
      try {
        resolve(new Response(body, { status: res.statusCode, statusText: res.statusMessage, headers: h }));
      } catch {
        resolve(new Response(body, { status: res.statusCode, headers: h }));
      }
    });
    out.on('error', reject);
    if (request.body) pipeline(Readable.fromWeb(request.body), out).catch((e) => out.destroy(e));
    else out.end();
  });
}

/** Writes `resp` to `res` (every Set-Cookie separately; the body streamed, with backpressure). */
async function send(res, resp, method) {
  for (const [name, value] of resp.headers) {
    if (name !== 'set-cookie' && !HOP_BY_HOP.has(name)) res.setHeader(name, value);
  }
  const cookies = resp.headers.getSetCookie();
  if (cookies.length > 0) res.setHeader('set-cookie', cookies);
  res.writeHead(resp.status, resp.statusText || undefined);
  if (resp.body === null || method === 'HEAD') {
    resp.body?.cancel().catch(() => {});
    res.end();
    return;
  }
  await pipeline(Readable.fromWeb(resp.body), res);
}

/** The standalone gate's fetch for `env`: forwards to ORIGIN_URL. */
function standalone(env) {
  const state = {};
  const origin = { binding: { fetch: originFetch }, rebase: false };
  return async (request) => {
    if (env.ORIGIN !== undefined) {
      console.log(JSON.stringify({ edgegate: 'config', level: 'error', reason: 'misconfigured', key: 'ORIGIN', problem: 'service bindings do not exist in Node.js: use ORIGIN_URL' }));
      return reply({ status: 500, body: '{"error":"misconfigured"}', type: 'application/json' });
    }
    try {
      return await handle(engineFor(env, state), request, origin);
    } catch (e) {
      return internalError(state, e);
    }
  };
}

// The `ctx` an app gets in this form: there is no runtime to extend the request's life for.
const context = Object.freeze({
  waitUntil(promise) { Promise.resolve(promise).catch((e) => console.error(e)); },
  passThroughOnException() {},
});

/**
 * A Node request listener (`http.createServer(listener)`) running the gate: the standalone form
 * (forward to `env.ORIGIN_URL`), or with `handler` the wrapper form (`withGate(handler)`).
 * `publicOrigin`: the `scheme://host[:port]` clients reach; without it, the request's Host header
 * is trusted for the URL the gate and the app see.
 */
export function createHandler({ env, handler, publicOrigin } = {}) {
  const vars = env ?? {};
  const base = checkedOrigin(publicOrigin);
  const gated = handler === undefined ? standalone(vars) : withGate(handler).fetch;
  return function edgegate(req, res) {
    (async () => {
      const { request, problem } = toRequest(req, base);
      const resp = request === undefined ? badRequest(problem) : await gated(request, vars, context);
      await send(res, resp, req.method);
    })().catch((e) => {
      // The app's own error, or the client gone mid-body.
      if (!res.headersSent) {
        console.error(e);
        res.writeHead(500, { 'content-type': 'text/plain', 'cache-control': 'no-store' }).end('internal error');
      } else {
        res.destroy();
      }
    });
  };
}

/**
 * Starts an HTTP server running `createHandler(options)` on `hostname` (default `127.0.0.1`) and
 * `port` (default 8787; 0 picks a free one); resolves to the listening `http.Server`.
 */
export function serve({ port = 8787, hostname = '127.0.0.1', ...options } = {}) {
  const server = http.createServer({ maxHeaderSize: MAX_HEADER_BYTES }, createHandler(options));
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, hostname, () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}
