// Browser-test harness: Debian's headless Chromium driven by playwright-core (which downloads
// nothing: it is pointed at the system binary with `executablePath`), and a tiny static server
// for www/. Shared by every test in tests/browser/ (the decoder page today, the demo app through
// the gate next): `launchBrowser()` + `newPage()`, or `openPage(url)` for both at once.
//
// Install what this needs with `bash scripts/setup-browser.sh`; build www/pkg/ with
// `bash scripts/build-browser.sh`.
import { chromium } from 'playwright-core';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync, createReadStream } from 'node:fs';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { startOrigin, startGate, SECRET } from '../worker/harness.mjs';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const WWW = path.join(ROOT, 'www');
/** Screenshots and other test artefacts (gitignored). */
export const ARTIFACTS = path.join(ROOT, 'tests', 'artifacts');

/**
 * Flags for headless Chromium in a container: no sandbox (we run as root, without user
 * namespaces), no GPU, and nothing that phones home (QUIC, background networking, component
 * updates, sync), so a test's network log holds only what the page itself requested.
 */
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** The Chromium binary: $CHROMIUM_BIN, else Debian's /usr/bin/chromium. */
export function chromiumPath() {
  const candidates = [process.env.CHROMIUM_BIN, '/usr/bin/chromium', '/usr/bin/chromium-browser'];
  const found = candidates.find((c) => c && existsSync(c));
  if (!found) {
    throw new Error('Chromium not found: run `bash scripts/setup-browser.sh` (installs Debian\'s chromium) or set CHROMIUM_BIN');
  }
  return found;
}

/** Launches headless Chromium (a fresh temporary profile each time). Close it with `close()`. */
export async function launchBrowser() {
  return chromium.launch({
    executablePath: chromiumPath(),
    headless: true,
    args: CHROMIUM_ARGS,
    timeout: 60_000,
  });
}

/**
 * A new page in a fresh, isolated context (own cookies and storage). Collected on the page:
 * `page.problems` (uncaught exceptions and console errors) and `page.requests` (every request
 * the page made: `{ method, url, postData }`).
 */
export async function newPage(browser, { baseURL, viewport = { width: 1200, height: 1000 } } = {}) {
  const context = await browser.newContext({ baseURL, viewport, serviceWorkers: 'block' });
  const page = await context.newPage();
  page.setDefaultTimeout(15_000);
  page.problems = [];
  page.requests = [];
  page.on('pageerror', (e) => page.problems.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') page.problems.push(`console.error: ${m.text()}`);
  });
  page.on('request', (r) => page.requests.push({ method: r.method(), url: r.url(), postData: r.postData() }));
  return page;
}

/** A free TCP port on 127.0.0.1 (for a gate whose URL a test must know up front). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/**
 * The demo as `scripts/dev.sh` runs it: the reference origin process (user alice/wonderland,
 * access tokens of `accessTtl` seconds, SQLite in a temp directory) and the built gate in workerd
 * in front of it on a port known up front, so the origin accepts the gate's URL as `Origin`.
 * `gateVars` are added to the gate's ORIGIN_URL. Resolves to `{ site, origin, gate, stop() }`.
 */
export async function startDemo({ accessTtl, gateVars = {} }) {
  // The port is known up front, so another process may take it first: try a few.
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const site = `http://127.0.0.1:${port}`;
    const dir = mkdtempSync(path.join(tmpdir(), 'edgegate-demo-'));
    const origin = await startOrigin(
      ['--reference', '--user', 'alice:wonderland', '--data-dir', dir, '--access-ttl', String(accessTtl),
        '--public-origin', site],
      { JWT_SECRET: SECRET },
      { quiet: true },
    );
    const vars = typeof gateVars === 'function' ? gateVars(origin.url) : gateVars;
    let gate;
    try {
      gate = await startGate({ ORIGIN_URL: origin.url, ...vars }, { port });
    } catch (e) {
      await origin.stop();
      rmSync(dir, { recursive: true, force: true });
      if (attempt < 3 && /ADDRESS_IN_USE/.test(String(e?.code))) continue;
      throw e;
    }
    const stop = async () => {
      await gate.dispose();
      await origin.stop();
      rmSync(dir, { recursive: true, force: true });
    };
    return { site, origin, gate, stop };
  }
}

/**
 * Signs `user` in to the demo app at `site` (the gate in front of the reference origin) the way
 * a person does: no token → the gate's redirect to the login page → the form → back to `/`.
 */
export async function signIn(page, site, user = 'alice', password = 'wonderland') {
  const first = await page.goto(`${site}/`);
  assert.equal(new URL(page.url()).pathname, '/auth/login');
  assert.equal(new URL(page.url()).searchParams.get('return_to'), '/');
  assert.equal(first.status(), 200);
  await page.fill('input[name=username]', user);
  await page.fill('input[name=password]', password);
  await Promise.all([page.waitForURL(`${site}/`), page.click('button[type=submit]')]);
  await page.waitForFunction((u) => document.querySelector('#sub')?.textContent === u, user);
}

/** Launches Chromium and opens `url` in a new page: `{ browser, page, close() }`. */
export async function openPage(url, options = {}) {
  const browser = await launchBrowser();
  try {
    const page = await newPage(browser, options);
    if (url) await page.goto(url);
    return { browser, page, close: () => browser.close() };
  } catch (e) {
    await browser.close();
    throw e;
  }
}

/** Saves a full-page PNG screenshot to tests/artifacts/<name>.png and returns its path. */
export async function saveScreenshot(page, name) {
  mkdirSync(ARTIFACTS, { recursive: true });
  const file = path.join(ARTIFACTS, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}

const MIME = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.wasm': 'application/wasm',
  '.ts': 'text/plain; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.txt': 'text/plain; charset=utf-8',
  '.md': 'text/plain; charset=utf-8',
};

/**
 * Serves `root` on 127.0.0.1 (GET/HEAD only, no directory listings, nothing outside `root`).
 * Resolves to `{ url, requests, close() }`; `requests` logs `{ method, path }` of every request.
 */
export async function serveStatic(root = WWW) {
  const base = path.resolve(root);
  const requests = [];
  const server = http.createServer((req, res) => {
    const url = new URL(req.url, 'http://localhost');
    requests.push({ method: req.method, path: url.pathname });
    const fail = (status) => {
      res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8' });
      res.end(`${status}\n`);
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') return fail(405);
    let rel;
    try {
      rel = decodeURIComponent(url.pathname);
    } catch {
      return fail(400);
    }
    if (rel.includes('\0')) return fail(400);
    let file = path.resolve(base, `.${rel}`);
    if (file !== base && !file.startsWith(base + path.sep)) return fail(403);
    try {
      if (statSync(file).isDirectory()) file = path.join(file, 'index.html');
      if (!statSync(file).isFile()) return fail(404);
    } catch {
      return fail(404);
    }
    res.writeHead(200, {
      'content-type': MIME[path.extname(file)] ?? 'application/octet-stream',
      'cache-control': 'no-store',
      'x-content-type-options': 'nosniff',
    });
    if (req.method === 'HEAD') return res.end();
    createReadStream(file).pipe(res);
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address();
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () => new Promise((resolve) => { server.closeAllConnections?.(); server.close(() => resolve()); }),
  };
}

/** base64url of a string or bytes. */
export const b64u = (x) => Buffer.from(x).toString('base64url');

/**
 * An unsigned-looking compact JWS for display tests: `header` and `claims` are objects or raw
 * JSON strings; the signature is a fixed fake unless given (decoding never checks it).
 */
export function fakeToken(claims, { header = { alg: 'HS256', typ: 'JWT' }, signature = b64u('not-a-real-signature') } = {}) {
  const h = typeof header === 'string' ? header : JSON.stringify(header);
  const c = typeof claims === 'string' ? claims : JSON.stringify(claims);
  return `${b64u(h)}.${b64u(c)}.${signature}`;
}

/** Fails with a clear message when www/pkg/ has not been built. */
export function requireBuiltModule() {
  const js = path.join(WWW, 'pkg', 'edgegate.js');
  if (!existsSync(js)) {
    throw new Error('www/pkg/ is missing: run `bash scripts/build-browser.sh` first');
  }
  return js;
}
