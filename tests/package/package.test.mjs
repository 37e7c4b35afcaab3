// The npm package as a user gets it: scripts/build-package.sh assembles packages/edgegate/dist/
// from the build, `npm pack` makes the tarball, and each project (the standalone form is the
// template, templates/gate/; wrapper/, hono/, verifier/, vitest/ and node/ are fixtures here) is
// copied to a temp folder and installs the tarball with no Rust toolchain on PATH (hono/, vitest/
// and node/ also install their own dependencies from the npm registry, or npm's cache). The
// Workers projects are bundled by `wrangler deploy --dry-run`; the bundle wrangler wrote then runs
// in workerd (Miniflare) and gets the same slice of the contract for every form: valid → forwarded
// with the identity, client-sent x-auth-* stripped; expired → 302 / 401; forged → 401; cross-site
// POST → 403; Set-Cookie kept; a configuration error names the key. The standalone form gets it
// twice (ORIGIN_URL, and ORIGIN as a service binding), and so does Node.js (`edgegate/node`:
// standalone and wrapper servers started with `node`, requests over HTTP). vitest/ runs its own
// tests (`npx vitest run`, @cloudflare/vitest-plugin); verifier/ uses only `Verifier`.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createHash, generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import http from 'node:http';
import { gzipSync } from 'node:zlib';
import { cpSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  startOrigin, startGate, startPublisher, accessToken, b64u, echo, header, headerNames, hsDoc, until, NOW, SECRET,
  revocationList,
} from '../worker/harness.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const PKG = path.join(ROOT, 'packages', 'edgegate');
const WRANGLER = path.join(ROOT, 'node_modules', '.bin', 'wrangler');
const TMP = mkdtempSync(path.join(os.tmpdir(), 'edgegate-package-'));

// The environment of the user's steps (install, bundle): no directory of PATH holds a Rust tool.
const RUST_TOOLS = ['cargo', 'rustc', 'rustup'];
const USER_ENV = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(CARGO|RUSTUP)/.test(k)));
USER_ENV.PATH = process.env.PATH.split(path.delimiter)
  .filter((dir) => dir && !RUST_TOOLS.some((t) => existsSync(path.join(dir, t))))
  .join(path.delimiter);
USER_ENV.WRANGLER_SEND_METRICS = 'false';

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', ...opts });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}:\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

let packed; // npm pack's report of the tarball
const installs = {}; // form → { bundle, outdir, installed: the installed package folder }

/**
 * Copies fixture `form` to a fresh folder, installs the tarball there (with the fixture's own
 * dependencies), and unless `bundle` is false bundles it with wrangler.
 */
function userProject(form, { bundle = true } = {}) {
  const dir = path.join(TMP, form);
  // The standalone form is a fresh copy of the template a user starts from (templates/gate/).
  const source = form === 'standalone' ? path.join(ROOT, 'templates', 'gate') : path.join(ROOT, 'tests', 'package', form);
  cpSync(source, dir, { recursive: true });
  if (form === 'standalone') {
    // `edgegate` comes from the packed tarball, not the registry; wrangler is the repository's
    // pinned one (asserted below), not a second download.
    const manifest = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8'));
    assert.ok(manifest.dependencies?.edgegate, 'the template depends on edgegate');
    delete manifest.dependencies;
    delete manifest.devDependencies;
    writeFileSync(path.join(dir, 'package.json'), JSON.stringify(manifest, null, 2));
  }
  // The tarball is local; a fixture with its own dependencies (hono, vitest) may need the
  // registry, or finds them in npm's cache.
  const manifest = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8'));
  const offline = manifest.dependencies === undefined && manifest.devDependencies === undefined ? '--offline' : '--prefer-offline';
  run('npm', ['install', '--no-audit', '--no-fund', offline, path.join(TMP, packed.filename)], { cwd: dir, env: USER_ENV });
  const installed = path.join(dir, 'node_modules', 'edgegate');
  if (!bundle) return { dir, installed };
  const outdir = path.join(TMP, `${form}-out`);
  run(WRANGLER, ['deploy', '--dry-run', '--outdir', outdir], { cwd: dir, env: USER_ENV });
  return { dir, bundle: path.join(outdir, 'index.js'), outdir, installed };
}

before(() => {
  run('bash', ['scripts/build-package.sh'], { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
  [packed] = JSON.parse(run('npm', ['pack', '--json', '--pack-destination', TMP], { cwd: PKG }));
  // The user's steps run without Rust: prove it, then install and bundle both fixtures.
  const which = spawnSync('sh', ['-c', RUST_TOOLS.map((t) => `command -v ${t}`).join(' || ')], { env: USER_ENV });
  assert.notEqual(which.status, 0, `a Rust tool is on the user's PATH: ${which.stdout}`);
  installs.standalone = userProject('standalone');
  installs.wrapper = userProject('wrapper');
  installs.hono = userProject('hono');
  installs.verifier = userProject('verifier');
}, { timeout: 120_000 });
after(() => rmSync(TMP, { recursive: true, force: true }));

describe('the template (templates/gate/)', () => {
  it('describes every secret the gate reads in .dev.vars.example, and carries the Deploy button', () => {
    const t = (f) => readFileSync(path.join(ROOT, 'templates', 'gate', f), 'utf8');
    for (const secret of ['JWT_SECRET', 'ASSERTION_SECRET']) assert.match(t('.dev.vars.example'), new RegExp(`^#? ?${secret}=`, 'm'), secret);
    assert.match(t('README.md'), /\(https:\/\/deploy\.workers\.cloudflare\.com\/button\)\]\(https:\/\/deploy\.workers\.cloudflare\.com\/\?url=/);
    assert.match(t('wrangler.toml'), /^main = "src\/index\.js"$/m);
  });
});

describe('the package', () => {
  it('holds the prebuilt wasm, the JS entry, the types and the README: nothing to build', (t) => {
    assert.equal(packed.name, 'edgegate');
    const cargo = readFileSync(path.join(ROOT, 'Cargo.toml'), 'utf8');
    assert.equal(packed.version, /\[package\][^[]*?\nversion = "([^"]+)"/.exec(cargo)[1]);
    assert.deepEqual(packed.files.map((f) => f.path).sort(), ['README.md', 'dist/index.d.ts', 'dist/index.js',
      'dist/index_bg.wasm', 'dist/node.d.ts', 'dist/node.js', 'dist/shared.js', 'package.json']);
    const manifest = JSON.parse(readFileSync(path.join(installs.standalone.installed, 'package.json'), 'utf8'));
    assert.equal(manifest.type, 'module');
    assert.equal(manifest.license, 'Apache-2.0');
    assert.deepEqual(manifest.exports['.'], { types: './dist/index.d.ts', default: './dist/index.js' });
    assert.deepEqual(manifest.exports['./node'], { types: './dist/node.d.ts', default: './dist/node.js' });
    for (const key of ['dependencies', 'peerDependencies', 'optionalDependencies', 'scripts']) {
      assert.equal(manifest[key], undefined, key);
    }
    assert.ok(readFileSync(path.join(ROOT, 'build', 'index_bg.wasm'))
      .equals(readFileSync(path.join(installs.standalone.installed, 'dist', 'index_bg.wasm'))), 'the wasm is the build\'s');
    t.diagnostic(`tarball ${packed.size} bytes, unpacked ${packed.unpackedSize} bytes`);
  });

  it('bundles with wrangler (the pinned version), the gate as a wasm module', () => {
    const pinned = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')).devDependencies.wrangler;
    assert.equal(run(WRANGLER, ['--version'], { env: USER_ENV }).trim().match(/\d+\.\d+\.\d+/)[0], pinned);
    const wasm = readFileSync(path.join(installs.standalone.installed, 'dist', 'index_bg.wasm'));
    for (const { outdir, bundle } of Object.values(installs)) {
      const modules = readdirSync(outdir).filter((f) => f.endsWith('.wasm'));
      assert.equal(modules.length, 1, readdirSync(outdir).join(', '));
      assert.ok(readFileSync(path.join(outdir, modules[0])).equals(wasm));
      assert.match(readFileSync(bundle, 'utf8'), new RegExp(`^import \\w+ from "\\./${modules[0]}";$`, 'm'));
    }
  });
});

const api = (token, extra = {}) => ({ headers: { accept: 'application/json', ...(token ? { cookie: `access=${token}` } : {}), ...extra } });
const nav = (token) => ({ headers: { 'sec-fetch-mode': 'navigate', accept: 'text/html', cookie: `access=${token}` } });
const expired = () => accessToken('alice', { iat: NOW() - 1200, exp: NOW() - 600 });
const forged = () => accessToken('alice', { role: 'admin' }, { secret: 'f'.repeat(64) });
const claimsOf = (b64u) => JSON.parse(Buffer.from(b64u, 'base64url').toString('utf8'));

async function expectError(res, status, code) {
  assert.equal(res.status, status);
  assert.equal(res.headers.get('content-type'), 'application/json');
  assert.equal(res.headers.get('cache-control'), 'no-store');
  assert.equal((await res.json()).error, code);
}

/**
 * The contract slice, the same for every form. `gate()` is the running gate; `view(res)` reads
 * what the origin / the app received: { method, path, query, headers: [[name, value]] }.
 */
function contractSlice(gate, view) {
  it('valid token → forwarded with the identity; client-sent x-auth-* stripped; Cache-Control private', async () => {
    const token = accessToken('alice', { role: 'reader' });
    const res = await gate().fetch('/api/./me?q=1', api(token, { 'x-auth-sub': 'root', 'X-Auth-Claims': 'e30', 'x-auth-role': 'admin' }));
    assert.equal(res.status, 200);
    assert.match(res.headers.get('cache-control'), /^private\b/);
    assert.match(res.headers.get('server-timing'), /^edgegate;dur=/);
    const seen = await view(res);
    assert.equal(seen.path, '/api/me');
    assert.equal(seen.query, 'q=1');
    assert.equal(header(seen, 'x-auth-sub'), 'alice');
    assert.deepEqual(claimsOf(header(seen, 'x-auth-claims')), JSON.parse(Buffer.from(token.split('.')[1], 'base64url')));
    assert.deepEqual(headerNames(seen).filter((n) => n.startsWith('x-auth-')).sort(), ['x-auth-claims', 'x-auth-sub']);
  });

  it('public path → forwarded without identity, client-sent x-auth-* stripped', async () => {
    const res = await gate().fetch('/health', { headers: { 'x-auth-sub': 'root', 'x-auth-claims': 'e30' } });
    assert.equal(res.status, 200);
    const seen = await view(res);
    assert.equal(seen.path, '/health');
    assert.ok(!headerNames(seen).some((n) => n.startsWith('x-auth-')), JSON.stringify(seen.headers));
  });

  it('expired token → 302 to REFRESH_PATH for a navigation, 401 token_expired for an API call', async () => {
    const res = await gate().fetch('/dash?tab=1', nav(expired()));
    assert.equal(res.status, 302);
    assert.equal(res.headers.get('location'), '/auth/refresh?return_to=%2Fdash%3Ftab%3D1');
    const apiRes = await gate().fetch('/api/me', api(expired()));
    assert.equal(apiRes.headers.get('www-authenticate'), 'Bearer error="invalid_token", error_description="token expired"');
    await expectError(apiRes, 401, 'token_expired');
  });

  it('forged or missing token → 401, never forwarded', async () => {
    await expectError(await gate().fetch('/api/me', api(forged())), 401, 'invalid_token');
    await expectError(await gate().fetch('/api/me', api(null, { 'x-auth-sub': 'alice' })), 401, 'missing_token');
  });

  it('cross-site POST with the cookie → 403 csrf; a same-origin one is forwarded', async () => {
    await expectError(await gate().fetch('/api/orders', { method: 'POST', body: 'x', ...api(accessToken(), { origin: 'https://evil.example' }) }), 403, 'csrf');
    const res = await gate().fetch('/api/orders', { method: 'POST', body: 'x', ...api(accessToken(), { origin: 'http://gate.test' }) });
    assert.equal(res.status, 200);
    assert.equal((await view(res)).method, 'POST');
  });

  it('every Set-Cookie of the response is kept, separately', async () => {
    const res = await gate().fetch('/__cookies', api(accessToken()));
    assert.equal(res.status, 200);
    assert.match(res.headers.get('cache-control'), /^private\b/);
    assert.deepEqual(res.headers.getSetCookie(), [
      'a=1; Path=/',
      'b=2; Path=/; HttpOnly',
      'c=3; Path=/; Expires=Wed, 21 Oct 2037 07:28:00 GMT; Secure',
    ]);
  });
}

/**
 * The published revocation list through the form `start(vars)` starts (with `vars` added): a
 * revoked token is answered like an expired one, another is forwarded, and a newer list is
 * picked up by the background refresh (`ctx.waitUntil`).
 */
function revocationSlice(start) {
  it('REVOCATION_URL: revoked → 401 token_expired, others forwarded; a newer list is picked up in the background', async () => {
    // Minted before the lists: a cut-off of the next second always revokes them.
    const [alice, mallory] = [accessToken('alice'), accessToken('mallory')];
    const pub = await startPublisher();
    pub.doc(hsDoc(revocationList(1, { subjects: { mallory: NOW() + 1 } })));
    const g = await start({ REVOCATION_URL: pub.url, REVOCATION_REFRESH_SECONDS: '1' });
    const status = async (token) => { const r = await g.fetch('/api/me', api(token)); await r.arrayBuffer(); return r.status; };
    try {
      await expectError(await g.fetch('/api/me', api(mallory)), 401, 'token_expired');
      assert.equal(await status(alice), 200);
      pub.doc(hsDoc(revocationList(2, { subjects: { mallory: NOW() + 1, alice: NOW() + 1 } })));
      await until(async () => (await status(alice)) === 401, 'the newer list revoking alice');
      await g.waitForLog((l) => l.edgegate === 'decision' && l.reason === 'revoked');
    } finally {
      await (g.dispose ?? g.stop).call(g);
      await pub.close();
    }
  });
}

/** What an app (wrapper, Hono) echoed, in the origin echo's shape (path and query from its URL). */
async function appView(res) {
  const body = await echo(res);
  const url = new URL(body.url);
  return { ...body, path: url.pathname, query: url.search ? url.search.slice(1) : null };
}

/** Miniflare options that run the bundle wrangler wrote (module names are relative to its folder). */
const bundled = ({ bundle, outdir }) => ({ scriptPath: bundle, modulesRoot: outdir });

/** The configuration error line of a gate whose ALGORITHMS is missing (`vars` otherwise valid). */
async function configErrorLine(install, vars) {
  const gate = await startGate({ JWT_SECRET: SECRET, ...vars }, { defaults: false, miniflare: bundled(install) });
  try {
    await expectError(await gate.fetch('/api/me', api(accessToken())), 500, 'misconfigured');
    return await gate.waitForLog((l) => l.edgegate === 'config');
  } finally {
    await gate.dispose();
  }
}
const configErrors = {};

describe('standalone form: export { default } from \'edgegate\'', () => {
  let origin;
  let gate;
  before(async () => {
    origin = await startOrigin([], {}, { quiet: true });
    gate = await startGate({ ORIGIN_URL: origin.url, SERVER_TIMING: 'true' }, { miniflare: bundled(installs.standalone) });
  });
  after(async () => {
    await gate?.dispose();
    await origin?.stop();
  });

  contractSlice(() => gate, async (res) => echo(res));
  revocationSlice((vars) => startGate({ ORIGIN_URL: origin.url, ...vars }, { miniflare: bundled(installs.standalone) }));

  it('a configuration error names the key', async () => {
    configErrors.standalone = await configErrorLine(installs.standalone, { ORIGIN_URL: origin.url });
    assert.equal(configErrors.standalone.key, 'ALGORITHMS');
  });
});

describe('standalone form, ORIGIN as a service binding (no ORIGIN_URL)', () => {
  let origin;
  let gate;
  before(async () => {
    origin = await startOrigin([], {}, { quiet: true });
    // The binding points at the echo origin (Miniflare's external service), as another Worker would
    // be bound: forwarded requests go through it, not over ORIGIN_URL.
    const serviceBindings = { ORIGIN: { external: { address: new URL(origin.url).host, http: {} } } };
    gate = await startGate({ SERVER_TIMING: 'true' }, { miniflare: { ...bundled(installs.standalone), serviceBindings } });
  });
  after(async () => {
    await gate?.dispose();
    await origin?.stop();
  });

  contractSlice(() => gate, async (res) => echo(res));

  it('the origin Worker sees the request\'s own host', async () => {
    const seen = await echo(await gate.fetch('/api/me', api(accessToken('bob'))));
    assert.equal(header(seen, 'host'), 'gate.test');
    assert.equal(header(seen, 'x-auth-sub'), 'bob');
  });
});

describe('wrapper form: withGate(app)', () => {
  let gate;
  before(async () => {
    // No ORIGIN_URL: the wrapper form has no origin.
    gate = await startGate({ SERVER_TIMING: 'true', APP_NAME: 'fixture' }, { miniflare: bundled(installs.wrapper) });
  });
  after(async () => { await gate?.dispose(); });

  contractSlice(() => gate, appView);
  revocationSlice((vars) => startGate({ APP_NAME: 'fixture', ...vars }, { miniflare: bundled(installs.wrapper) }));

  it('the app gets the identity as an argument and from identityOf, with its own env, ctx and this', async () => {
    const token = accessToken('alice', { role: 'reader', tags: ['a', 'b'] });
    const body = await echo(await gate.fetch('/api/me', api(token, { 'x-auth-sub': 'root' })));
    const claims = JSON.parse(Buffer.from(token.split('.')[1], 'base64url'));
    assert.deepEqual(body.identity, { sub: 'alice', claims });
    assert.deepEqual(body.identityOf, body.identity);
    assert.equal(body.frozen, true);
    assert.equal(body.url, 'http://gate.test/api/me');
    assert.deepEqual([body.envBinding, body.ctx, body.self], ['fixture', true, true]);
  });

  it('identity is null on a public path, whatever the client sends', async () => {
    const body = await echo(await gate.fetch('/health', api(forged(), { 'x-auth-sub': 'alice', 'x-auth-claims': 'eyJzdWIiOiJhbGljZSJ9' })));
    assert.equal(body.identity, null);
    assert.equal(body.identityOf, null);
  });

  it('a configuration error names the key, exactly as the standalone gate logs it', async () => {
    configErrors.wrapper = await configErrorLine(installs.wrapper, {});
    assert.equal(configErrors.wrapper.key, 'ALGORITHMS');
    assert.deepEqual(configErrors.wrapper, configErrors.standalone);
  });
});

describe('Hono middleware: app.use(edgegateHono())', () => {
  let gate;
  before(async () => {
    gate = await startGate({ SERVER_TIMING: 'true', APP_NAME: 'fixture' }, { miniflare: bundled(installs.hono) });
  });
  after(async () => { await gate?.dispose(); });

  contractSlice(() => gate, appView);
  revocationSlice((vars) => startGate({ APP_NAME: 'fixture', ...vars }, { miniflare: bundled(installs.hono) }));

  it('the handler gets the identity from c.get(\'edgegate\'), never from a client-sent x-auth-sub', async () => {
    const token = accessToken('alice', { role: 'reader', tags: ['a', 'b'] });
    const body = await echo(await gate.fetch('/api/me', api(token, { 'x-auth-sub': 'root' })));
    const claims = JSON.parse(Buffer.from(token.split('.')[1], 'base64url'));
    assert.deepEqual(body.identity, { sub: 'alice', claims });
    assert.deepEqual(body.identityOf, body.identity);
    assert.equal(body.headerSub, 'alice');
    assert.equal(body.frozen, true);
    assert.deepEqual([body.envBinding, body.ctx], ['fixture', true]);
  });

  it('identity is null on a public path, whatever the client sends', async () => {
    const body = await echo(await gate.fetch('/health', api(forged(), { 'x-auth-sub': 'alice', 'x-auth-claims': 'eyJzdWIiOiJhbGljZSJ9' })));
    assert.equal(body.identity, null);
    assert.equal(body.identityOf, null);
    assert.equal(body.headerSub, null);
  });

  it('a configuration error names the key, exactly as the standalone gate logs it', async () => {
    const line = await configErrorLine(installs.hono, {});
    assert.equal(line.key, 'ALGORITHMS');
    assert.deepEqual(line, configErrors.standalone);
  });
});

describe('verification only: new Verifier(env) in a Worker of its own', () => {
  let worker;
  before(async () => {
    // ALGORITHMS and JWT_SECRET only: no ORIGIN_URL.
    worker = await startGate({ PUBLIC_PATHS: undefined }, { miniflare: bundled(installs.verifier) });
  });
  after(async () => { await worker?.dispose(); });

  const verified = async (token) => {
    const res = await worker.fetch('/', { headers: { 'x-token': token } });
    return { status: res.status, body: await res.json() };
  };

  it('valid token → identity(token) is the frozen { sub, claims } as signed; verify(token) the sub', async () => {
    const token = accessToken('alice', { role: 'reader', tags: ['a', 'b'] });
    const { status, body } = await verified(token);
    assert.equal(status, 200);
    assert.deepEqual(body, { identity: { sub: 'alice', claims: claimsOf(token.split('.')[1]) }, sub: 'alice', frozen: true });
  });

  it('expired token → rejected with expired', async () => {
    assert.deepEqual(await verified(expired()), { status: 401, body: { rejected: 'expired' } });
  });

  it('forged token → rejected with bad_signature', async () => {
    assert.deepEqual(await verified(forged()), { status: 401, body: { rejected: 'bad_signature' } });
  });

  it('a configuration error is thrown by the constructor; its message names the key', async () => {
    const bad = await startGate({ JWT_SECRET: SECRET }, { defaults: false, miniflare: bundled(installs.verifier) });
    try {
      const res = await bad.fetch('/', { headers: { 'x-token': accessToken() } });
      assert.equal(res.status, 500);
      assert.match((await res.json()).configError, /\bALGORITHMS\b/);
    } finally {
      await bad.dispose();
    }
  });
});

describe('Workers Vitest integration: @cloudflare/vitest-plugin in the user\'s project', () => {
  let project;
  // vitest and the plugin come from the npm registry (or npm's cache).
  before(() => { project = userProject('vitest', { bundle: false }); }, { timeout: 300_000 });

  it('npx vitest run: the fixture\'s own tests pass inside workerd (valid, expired, forged, public)', () => {
    const report = path.join(TMP, 'vitest-report.json');
    // A failing assertion in the fixture makes vitest exit non-zero, and run() throw with its output.
    run('npx', ['vitest', 'run', '--reporter=default', '--reporter=json', `--outputFile.json=${report}`],
      { cwd: project.dir, env: USER_ENV });
    const r = JSON.parse(readFileSync(report, 'utf8'));
    assert.equal(r.success, true);
    assert.equal(r.numFailedTests, 0);
    assert.equal(r.numPassedTests, 4, 'every test of tests/package/vitest/test/ ran');
  });
});

/**
 * `node <script>` in the installed Node.js project, configured from its environment as a Worker is
 * from [vars] (defaults as startGate's). Resolves to { url, logs, fetch, raw, waitForLog, stop }.
 */
async function startNode(project, script, vars, { defaults = true } = {}) {
  const env = { PATH: USER_ENV.PATH, HOME: process.env.HOME, PORT: '0', PUBLIC_ORIGIN: 'http://gate.test' };
  Object.assign(env, defaults ? { ALGORITHMS: 'HS256', JWT_SECRET: SECRET, PUBLIC_PATHS: '/health,/static/' } : {}, vars);
  for (const [k, v] of Object.entries(env)) if (v === undefined) delete env[k];
  const child = spawn(process.execPath, [script], { cwd: project.dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const logs = [];
  let pending = '';
  const collect = (d) => {
    pending += d.toString();
    const lines = pending.split('\n');
    pending = lines.pop();
    logs.push(...lines.filter((l) => l.trim()));
  };
  child.stdout.on('data', collect);
  child.stderr.on('data', collect);
  const exited = new Promise((resolve) => child.on('exit', resolve));
  const url = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`node ${script} did not start within 20 s:\n${logs.join('\n')}`)), 20_000);
    const look = () => {
      const m = logs.map((l) => /^listening on (http:\/\/\S+)$/.exec(l)).find(Boolean);
      if (m) { clearTimeout(timer); resolve(m[1]); }
    };
    child.stdout.on('data', look);
    child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`node ${script} exited ${code}:\n${logs.join('\n')}${pending}`)); });
  });
  return {
    url,
    logs,
    fetch: (p, init = {}) => fetch(new URL(p, url), { redirect: 'manual', ...init }),
    /** A request with exactly these headers and target (fetch would add or normalise some). */
    raw: (target, { method = 'GET', headers = [], body } = {}) => rawRequest(url, target, { method, headers, body }),
    async waitForLog(pred, ms = 5000) {
      const end = Date.now() + ms;
      while (Date.now() < end) {
        const hit = logs.find((l) => { try { return pred(JSON.parse(l)); } catch { return false; } });
        if (hit) return JSON.parse(hit);
        await new Promise((r) => setTimeout(r, 25));
      }
      throw new Error(`no matching log line; got:\n${logs.join('\n')}`);
    },
    stop() { child.kill('SIGTERM'); return exited; },
  };
}

/** One HTTP/1.1 request on a fresh connection; `headers` a flat [name, value, …] list, sent as is. */
function rawRequest(base, target, { method, headers, body }) {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: hostname, port, path: target, method, headers, agent: false }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

const sha256 = (buf) => createHash('sha256').update(buf).digest('hex');

describe('Node.js: the standalone form, serve({ env }) from edgegate/node', () => {
  let project;
  let origin;
  let gate;
  before(async () => {
    project = userProject('node', { bundle: false });
    origin = await startOrigin([], {}, { quiet: true });
    gate = await startNode(project, 'gate.mjs', { ORIGIN_URL: origin.url, SERVER_TIMING: 'true' });
  }, { timeout: 120_000 });
  after(async () => {
    await gate?.stop();
    await origin?.stop();
  });

  it('the types compile against @types/node as a TypeScript user\'s project does', () => {
    run(path.join(ROOT, 'node_modules', '.bin', 'tsc'), ['-p', '.'], { cwd: project.dir, env: USER_ENV });
  });

  contractSlice(() => gate, async (res) => echo(res));

  it('request and response bodies are streamed through whole (1 MiB up, 3 MB down)', async () => {
    const up = randomBytes(1 << 20);
    const res = await gate.fetch('/api/upload', { method: 'POST', body: up, ...api(accessToken(), { origin: 'http://gate.test' }) });
    const seen = await echo(res);
    assert.deepEqual([seen.body_len, seen.body_sha256], [up.length, sha256(up)]);
    const big = await gate.fetch('/__big?bytes=3000000', api(accessToken()));
    assert.equal(big.status, 200);
    assert.equal(sha256(Buffer.from(await big.arrayBuffer())), big.headers.get('x-body-sha256'));
  });

  it('the URL is publicOrigin\'s, whatever the Host header; a target that is not a path → 400', async () => {
    const res = await gate.raw('/api/me', { headers: ['Host', 'evil.example', 'Cookie', `access=${accessToken()}`, 'Accept', 'application/json'] });
    assert.equal(res.status, 200);
    // The origin is reached at ORIGIN_URL's host; the client's Host goes nowhere.
    assert.equal(header(JSON.parse(res.body), 'host'), new URL(origin.url).host);
    const absolute = await gate.raw('http://evil.example/api/me', { headers: ['Host', 'evil.example', 'Cookie', `access=${accessToken()}`] });
    assert.equal(absolute.status, 400);
    assert.deepEqual(JSON.parse(absolute.body), { error: 'bad_request' });
    await gate.waitForLog((l) => l.edgegate === 'node' && l.reason === 'bad_request');
  });

  it('a Cookie header over 16 KiB gets the gate\'s own 431', async () => {
    const res = await gate.raw('/api/me', { headers: ['Host', 'gate.test', 'Cookie', `access=${accessToken()}; pad=${'p'.repeat(17 * 1024)}`] });
    assert.equal(res.status, 431);
    assert.deepEqual(JSON.parse(res.body), { error: 'header_too_large' });
  });

  it('an encoded origin response reaches the client byte for byte, Content-Encoding kept', async () => {
    const gz = gzipSync(Buffer.from('{"compressed":true}'));
    const compressing = http.createServer((req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip', 'content-length': gz.length });
      res.end(gz);
    });
    await new Promise((r) => compressing.listen(0, '127.0.0.1', r));
    const g = await startNode(project, 'gate.mjs', { ORIGIN_URL: `http://127.0.0.1:${compressing.address().port}` });
    try {
      const res = await g.raw('/api/me', { headers: ['Host', 'gate.test', 'Cookie', `access=${accessToken()}`, 'Accept-Encoding', 'gzip'] });
      assert.equal(res.status, 200);
      assert.equal(res.headers['content-encoding'], 'gzip');
      assert.ok(res.body.equals(gz));
    } finally {
      await g.stop();
      compressing.close();
    }
  });

  revocationSlice((vars) => startNode(project, 'gate.mjs', { ORIGIN_URL: origin.url, ...vars }));

  it('a configuration error names the key, exactly as the Worker logs it; ORIGIN (a binding) is refused', async () => {
    const bad = await startNode(project, 'gate.mjs', { JWT_SECRET: SECRET, ORIGIN_URL: origin.url }, { defaults: false });
    try {
      await expectError(await bad.fetch('/api/me', api(accessToken())), 500, 'misconfigured');
      assert.deepEqual(await bad.waitForLog((l) => l.edgegate === 'config'), configErrors.standalone);
    } finally { await bad.stop(); }
    const bound = await startNode(project, 'gate.mjs', { ORIGIN: 'my-app', ORIGIN_URL: origin.url });
    try {
      await expectError(await bound.fetch('/api/me', api(accessToken())), 500, 'misconfigured');
      assert.equal((await bound.waitForLog((l) => l.edgegate === 'config')).key, 'ORIGIN');
    } finally { await bound.stop(); }
  });
});

describe('Node.js: the wrapper form, serve({ env, handler }) from edgegate/node', () => {
  let project;
  let gate;
  before(async () => {
    project = { dir: path.join(TMP, 'node') }; // installed by the standalone suite above
    gate = await startNode(project, 'app.mjs', { SERVER_TIMING: 'true', APP_NAME: 'fixture' });
  });
  after(async () => { await gate?.stop(); });

  contractSlice(() => gate, appView);

  it('the app gets the identity as an argument and from identityOf, its env and a ctx', async () => {
    const token = accessToken('alice', { role: 'reader', tags: ['a', 'b'] });
    const body = await echo(await gate.fetch('/api/me', api(token, { 'x-auth-sub': 'root' })));
    assert.deepEqual(body.identity, { sub: 'alice', claims: claimsOf(token.split('.')[1]) });
    assert.deepEqual(body.identityOf, body.identity);
    assert.equal(body.frozen, true);
    assert.equal(body.url, 'http://gate.test/api/me');
    assert.deepEqual([body.envBinding, body.ctx], ['fixture', true]);
  });

  it('a request body reaches the app streamed, whole', async () => {
    const up = randomBytes(1 << 20);
    const body = await echo(await gate.fetch('/api/upload', { method: 'PUT', body: up, ...api(accessToken(), { origin: 'http://gate.test' }) }));
    assert.equal(body.bodyLength, up.length);
  });

  it('JWKS_URL: the set is fetched once and ES256 checked by Node\'s WebCrypto, with no Cache API', async () => {
    const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const set = JSON.stringify({ keys: [{ ...publicKey.export({ format: 'jwk' }), kid: 'k1', alg: 'ES256', use: 'sig' }] });
    let fetched = 0;
    const idp = http.createServer((req, res) => {
      fetched += 1;
      res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'max-age=600' }).end(set);
    });
    await new Promise((r) => idp.listen(0, '127.0.0.1', r));
    const es256 = (sub) => {
      const input = `${b64u(JSON.stringify({ alg: 'ES256', typ: 'JWT', kid: 'k1' }))}.${b64u(JSON.stringify({ sub, iat: NOW(), exp: NOW() + 600 }))}`;
      return `${input}.${sign('sha256', Buffer.from(input), { key: privateKey, dsaEncoding: 'ieee-p1363' }).toString('base64url')}`;
    };
    const g = await startNode(project, 'app.mjs', {
      ALGORITHMS: 'ES256', JWT_SECRET: undefined, JWKS_URL: `http://127.0.0.1:${idp.address().port}/jwks.json`,
    });
    try {
      for (const sub of ['alice', 'bob']) assert.equal((await echo(await g.fetch('/api/me', api(es256(sub))))).identity.sub, sub);
      await expectError(await g.fetch('/api/me', api(forged())), 401, 'invalid_token');
      assert.equal(fetched, 1);
      assert.deepEqual(g.logs.filter((l) => /"level":"error"/.test(l)), []);
    } finally {
      await g.stop();
      idp.close();
    }
  });

  it('without publicOrigin the Host header is the URL\'s; a repeated or malformed Host → 400', async () => {
    const g = await startNode(project, 'app.mjs', { PUBLIC_ORIGIN: undefined });
    try {
      const ok = await g.raw('/api/me', { headers: ['Host', 'app.example:8443', 'Cookie', `access=${accessToken()}`, 'Accept', 'application/json'] });
      assert.equal(JSON.parse(ok.body).url, 'http://app.example:8443/api/me');
      for (const hosts of [['Host', 'a.example', 'Host', 'b.example'], ['Host', 'a.example/x']]) {
        const res = await g.raw('/api/me', { headers: [...hosts, 'Cookie', `access=${accessToken()}`] });
        assert.equal(res.status, 400, hosts.join(' '));
      }
      await g.waitForLog((l) => l.edgegate === 'node' && /^Host header/.test(l.problem));
    } finally { await g.stop(); }
  });
});
