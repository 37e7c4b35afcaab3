// The npm package as a user gets it: scripts/build-package.sh assembles packages/edgegate/dist/
// from the build, `npm pack` makes the tarball, and each project (the standalone form is the
// template, templates/gate/; wrapper/ and hono/ are fixtures here) is copied to a temp folder, installs the tarball with no Rust toolchain on PATH (hono/
// also installs hono from the npm registry, or npm's cache), and is bundled
// by `wrangler deploy --dry-run`. The bundle wrangler wrote then runs in workerd (Miniflare) and
// gets the same slice of the contract for every form: valid → forwarded with the identity,
// client-sent x-auth-* stripped; expired → 302 / 401; forged → 401; cross-site POST → 403;
// Set-Cookie kept; a configuration error names the key.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startOrigin, startGate, accessToken, echo, header, headerNames, NOW, SECRET } from '../worker/harness.mjs';

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
    assert.deepEqual(packed.files.map((f) => f.path).sort(),
      ['README.md', 'dist/index.d.ts', 'dist/index.js', 'dist/index_bg.wasm', 'package.json']);
    const manifest = JSON.parse(readFileSync(path.join(installs.standalone.installed, 'package.json'), 'utf8'));
    assert.equal(manifest.type, 'module');
    assert.equal(manifest.license, 'Apache-2.0');
    assert.deepEqual(manifest.exports['.'], { types: './dist/index.d.ts', default: './dist/index.js' });
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
 * The contract slice, the same for both forms. `gate()` is the running gate; `view(res)` reads
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

  const view = async (res) => {
    const body = await echo(res);
    const url = new URL(body.url);
    return { ...body, path: url.pathname, query: url.search ? url.search.slice(1) : null };
  };
  contractSlice(() => gate, view);

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

  const view = async (res) => {
    const body = await echo(res);
    const url = new URL(body.url);
    return { ...body, path: url.pathname, query: url.search ? url.search.slice(1) : null };
  };
  contractSlice(() => gate, view);

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
