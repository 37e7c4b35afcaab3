// The whole session lifecycle end to end: the built gate in workerd in front of the real
// reference origin process (SQLite in a temp directory). Requests go over plain HTTP to workerd
// (`gate.raw`) with the headers a browser sends, and a small cookie jar plays the browser.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startOrigin, startGate, SECRET } from './harness.mjs';

const SITE = 'http://gate.test'; // what the harness's raw() requests look like to the worker
const ACCESS_TTL = 3;
// carol's password is changed by a test: nobody else signs in as carol.
const USERS = ['--user', 'alice:wonderland', '--user', 'bob:builder', '--user', 'carol:carol-1234'];

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** A browser's cookie store for one site: name → { value, path }. */
class Jar {
  constructor() { this.cookies = new Map(); }
  update(setCookies = []) {
    for (const line of setCookies) {
      const [nv, ...attrs] = line.split(';').map((s) => s.trim());
      const eq = nv.indexOf('=');
      const name = nv.slice(0, eq);
      const value = nv.slice(eq + 1);
      const attr = (n) => attrs.find((a) => a.toLowerCase().startsWith(`${n}=`))?.split('=')[1];
      const p = attr('path') ?? '/';
      if (attr('max-age') === '0' || value === '') this.cookies.delete(name);
      else this.cookies.set(name, { value, path: p, attrs });
    }
  }
  header(urlPath) {
    const p = urlPath.split('?')[0];
    const on = [...this.cookies].filter(([, c]) => c.path === '/' || p === c.path || p.startsWith(`${c.path}/`));
    return on.map(([n, c]) => `${n}=${c.value}`).join('; ');
  }
  get(name) { return this.cookies.get(name)?.value; }
  clone() { const j = new Jar(); for (const [k, v] of this.cookies) j.cookies.set(k, { ...v }); return j; }
  /** `exp` of the access token in the jar. */
  accessExp() { return JSON.parse(Buffer.from(this.get('access').split('.')[1], 'base64url').toString()).exp; }
}

/** The headers a browser adds: a top-level navigation, or a same-origin fetch(). */
const NAV = { 'sec-fetch-mode': 'navigate', 'sec-fetch-site': 'same-origin', 'sec-fetch-dest': 'document', accept: 'text/html,application/xhtml+xml' };
const FETCH = { 'sec-fetch-mode': 'cors', 'sec-fetch-site': 'same-origin', accept: 'application/json' };

/**
 * One request as a browser on SITE would make it, through `gate`, with `jar`'s cookies. With
 * `follow`, redirects are followed like a browser (303 and 302 → GET) and every hop must stay on
 * SITE. Resolves to the last response plus `chain` ([{ path, status, location }]).
 */
async function browse(gate, jar, p, { method = 'GET', headers = NAV, form, follow = false } = {}) {
  const chain = [];
  let target = p;
  let body;
  let h = { ...headers };
  if (form) {
    body = new URLSearchParams(form).toString();
    h['content-type'] = 'application/x-www-form-urlencoded';
    h['content-length'] = String(Buffer.byteLength(body));
  }
  if (method !== 'GET' && method !== 'HEAD') h.origin = SITE;
  for (let hop = 0; hop < 10; hop++) {
    const cookie = jar.header(target);
    const res = await gate.raw(target, { method, headers: cookie ? { ...h, cookie } : h, body });
    jar.update(res.headers['set-cookie']);
    chain.push({ path: target, status: res.status, location: res.headers.location });
    if (!follow || ![301, 302, 303, 307, 308].includes(res.status)) return { ...res, chain };
    const next = new URL(res.headers.location, `${SITE}${target}`);
    assert.equal(next.origin, SITE, `redirect left the site: ${res.headers.location}`);
    target = next.pathname + next.search;
    method = 'GET';
    body = undefined;
    h = { ...NAV };
  }
  throw new Error(`redirect loop: ${JSON.stringify(chain)}`);
}

const json = (res) => JSON.parse(res.body.toString());

async function login(gate, jar, user = 'alice', password = 'wonderland', returnTo = '/') {
  const res = await browse(gate, jar, '/auth/login', { method: 'POST', form: { username: user, password, return_to: returnTo } });
  assert.equal(res.status, 303, res.body.toString());
  assert.ok(jar.get('access') && jar.get('refresh'), 'login sets both cookies');
  return res;
}

/** Waits until the gate (LEEWAY_SECONDS=0) sees the jar's access token as expired. */
async function untilExpired(jar) {
  const wait = jar.accessExp() * 1000 - Date.now() + 150;
  if (wait > 0) await sleep(wait);
}

const refreshApi = (gate, jar) => browse(gate, jar, '/auth/refresh', { method: 'POST', headers: FETCH });

let dir;
let origin;
let gate; // leeway 0: expiry is observable within seconds
let lenient; // default leeway (30 s): access tokens stay valid through slow steps

before(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'edgegate-lifecycle-'));
  origin = await startOrigin(
    ['--reference', ...USERS, '--data-dir', dir, '--access-ttl', String(ACCESS_TTL), '--refresh-grace', '1',
      '--public-origin', SITE, '--test-routes'],
    { JWT_SECRET: SECRET },
    { quiet: true },
  );
  gate = await startGate({ ORIGIN_URL: origin.url, LEEWAY_SECONDS: '0' });
  lenient = await startGate({ ORIGIN_URL: origin.url });
});
after(async () => {
  await gate?.dispose();
  await lenient?.dispose();
  await origin?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('session lifecycle through the gate and the reference origin', () => {
  it('login → authorised request → expiry → refresh → the original request succeeds', async () => {
    const jar = new Jar();
    // Not signed in: the gate sends the navigation to the login page, keeping the target.
    const start = await browse(gate, jar, '/dashboard?tab=2');
    assert.equal(start.status, 302);
    assert.equal(start.headers.location, `/auth/login?return_to=${encodeURIComponent('/dashboard?tab=2')}`);
    const form = await browse(gate, jar, start.headers.location);
    assert.equal(form.status, 200);
    assert.match(form.body.toString(), /name="return_to" value="\/dashboard\?tab=2"/);

    // Log in: cookies set, back to the page, which the origin serves with the verified identity.
    const res = await login(gate, jar, 'alice', 'wonderland', '/dashboard?tab=2');
    assert.equal(res.headers.location, '/dashboard?tab=2');
    const page = await browse(gate, jar, '/dashboard?tab=2');
    assert.equal(page.status, 200);
    const seen = json(page);
    assert.equal(seen.path, '/dashboard');
    assert.equal(seen.query, 'tab=2');
    assert.deepEqual(seen.headers.filter(([n]) => n === 'x-auth-sub'), [['x-auth-sub', 'alice']]);
    const me = json(await browse(gate, jar, '/api/me', { headers: FETCH }));
    assert.equal(me.sub, 'alice');
    assert.ok(me.claims.sid, 'the access token names its session');
    assert.ok(me.expires_in <= ACCESS_TTL && me.expires_in >= 0, String(me.expires_in));
    const { access: access1, refresh: refresh1 } = { access: jar.get('access'), refresh: jar.get('refresh') };

    // Expiry: an API call is told to refresh...
    await untilExpired(jar);
    const api = await browse(gate, jar, '/api/me', { headers: FETCH });
    assert.equal(api.status, 401);
    assert.deepEqual(json(api), { error: 'token_expired', refresh: '/auth/refresh' });

    // ...and a navigation goes through the refresh endpoint and back to the page it wanted.
    const back = await browse(gate, jar, '/dashboard?tab=2', { follow: true });
    assert.deepEqual(back.chain.map((c) => c.status), [302, 302, 200]);
    assert.equal(back.chain[0].location, `/auth/refresh?return_to=${encodeURIComponent('/dashboard?tab=2')}`);
    assert.equal(back.chain[1].location, '/dashboard?tab=2');
    assert.equal(json(back).path, '/dashboard');
    assert.notEqual(jar.get('access'), access1, 'a new access token');
    assert.notEqual(jar.get('refresh'), refresh1, 'the refresh token rotated');
    const me2 = json(await browse(gate, jar, '/api/me', { headers: FETCH }));
    assert.equal(me2.claims.sid, me.claims.sid, 'same session (family)');

    // The script way: on token_expired, POST the refresh endpoint (204) and retry.
    await untilExpired(jar);
    assert.equal((await browse(gate, jar, '/api/me', { headers: FETCH })).status, 401);
    const r = await refreshApi(gate, jar);
    assert.equal(r.status, 204);
    assert.equal((await browse(gate, jar, '/api/me', { headers: FETCH })).status, 200);
  });

  it('two tabs refreshing the same token at once are not mistaken for theft', async () => {
    const jar = new Jar();
    await login(lenient, jar);
    const sid = json(await browse(lenient, jar, '/api/me', { headers: FETCH })).claims.sid;
    const before = jar.get('refresh');
    const tabs = [jar.clone(), jar.clone()];
    const [a, b] = await Promise.all(tabs.map((t) => refreshApi(lenient, t)));
    assert.deepEqual([a.status, b.status], [204, 204]);
    assert.equal(tabs[0].get('refresh'), tabs[1].get('refresh'), 'both tabs got the same successor');
    assert.notEqual(tabs[0].get('refresh'), before);
    // The family is alive: the successor rotates normally.
    assert.equal((await refreshApi(lenient, tabs[0])).status, 204);
    const graceLine = origin.stderr.find((l) => l.includes('"grace":true') && l.includes(sid));
    assert.ok(graceLine, 'the second refresh was served from the grace window');
    assert.ok(!origin.stderr.some((l) => l.includes('refresh_token_reuse') && l.includes(sid)), 'no theft signal');
  });

  it('refresh-token reuse kills the whole family (thief and victim logged out) and is logged', async () => {
    const victim = new Jar();
    await login(lenient, victim);
    const stolen = victim.clone(); // the attacker copies the refresh cookie
    const sid = json(await browse(lenient, victim, '/api/me', { headers: FETCH })).claims.sid;
    // The victim keeps using the app: the stolen token is rotated away.
    assert.equal((await refreshApi(lenient, victim)).status, 204);
    await sleep(1500); // past the 1 s grace window

    // The thief replays it: refused, and the family is revoked.
    const theft = await refreshApi(lenient, stolen);
    assert.equal(theft.status, 401);
    assert.deepEqual(json(theft), { error: 'invalid_refresh', login: '/auth/login' });
    // The victim's current refresh token is dead too; a navigation ends at the login page.
    const victimTry = await browse(lenient, victim.clone(), '/auth/refresh?return_to=%2Fdashboard');
    assert.equal(victimTry.status, 302);
    assert.equal(victimTry.headers.location, '/auth/login?return_to=%2Fdashboard');
    assert.equal((await refreshApi(lenient, victim)).status, 401);
    assert.equal(victim.get('refresh'), undefined, 'the failed refresh cleared the cookie');

    // The theft signal is a structured log line naming the user and the session, never a token.
    await sleep(100);
    const line = origin.stderr.map((l) => { try { return JSON.parse(l); } catch { return {}; } })
      .find((l) => l.event === 'refresh_token_reuse' && l.sid === sid);
    assert.ok(line, origin.stderr.join('\n'));
    assert.equal(line.sub, 'alice');
    assert.equal(line.action, 'family_revoked');
    const all = origin.stderr.join('\n');
    for (const secret of [stolen.get('refresh'), stolen.get('access'), 'wonderland', SECRET]) {
      assert.ok(!all.includes(secret), 'a token, password or secret appeared in the origin log');
    }
  });

  it('logout-all stops refresh on every device; logout only on this one', async () => {
    const laptop = new Jar();
    const phone = new Jar();
    const tablet = new Jar();
    const bob = new Jar();
    await login(lenient, laptop);
    await login(lenient, phone);
    await login(lenient, tablet);
    await login(lenient, bob, 'bob', 'builder');

    // Logout on the tablet (a form post: 303 to the login page, cookies cleared).
    const tabletBefore = tablet.clone();
    const out = await browse(lenient, tablet, '/auth/logout', { method: 'POST' });
    assert.equal(out.status, 303);
    assert.equal(out.headers.location, '/auth/login?logged_out=1');
    assert.equal(tablet.get('access'), undefined);
    assert.equal(tablet.get('refresh'), undefined);
    assert.equal((await refreshApi(lenient, tabletBefore)).status, 401, 'the tablet session is revoked');
    assert.equal((await refreshApi(lenient, phone)).status, 204, 'other devices are unaffected');

    // A cross-site form post to logout-all is refused (by the gate's CSRF guard or the origin).
    const forged = await lenient.raw('/auth/logout-all', {
      method: 'POST',
      headers: { cookie: laptop.header('/auth/logout-all'), origin: 'https://evil.example', 'sec-fetch-site': 'cross-site', 'sec-fetch-mode': 'navigate' },
    });
    assert.equal(forged.status, 403);
    assert.equal((await refreshApi(lenient, phone)).status, 204);

    // Logout everywhere from the laptop.
    const laptopBefore = laptop.clone();
    const all = await browse(lenient, laptop, '/auth/logout-all', { method: 'POST', headers: FETCH });
    assert.equal(all.status, 200);
    assert.ok(json(all).revoked >= 2, JSON.stringify(json(all)));
    assert.equal(laptop.get('refresh'), undefined, 'cookies cleared');
    assert.equal((await refreshApi(lenient, phone)).status, 401, 'phone can no longer refresh');
    assert.equal((await refreshApi(lenient, laptopBefore)).status, 401, 'nor can the laptop');
    // bob is somebody else.
    assert.equal((await refreshApi(lenient, bob)).status, 204);

    // The documented bound: an access token already issued stays valid until its exp.
    const phoneNow = await browse(lenient, phone.clone(), '/api/me', { headers: FETCH });
    if (phoneNow.status === 200) assert.ok(json(phoneNow).expires_in <= ACCESS_TTL);
  });

  it('an already-issued access token dies at its exp after logout-all, and refresh then fails', async () => {
    const laptop = new Jar();
    const phone = new Jar();
    await login(gate, laptop);
    await login(gate, phone);
    const phoneAccess = phone.get('access');
    const res = await browse(lenient, laptop, '/auth/logout-all', { method: 'POST', headers: FETCH });
    assert.equal(res.status, 200);
    // Until exp the phone's access token still verifies at the edge (no session-store lookup)...
    if (Date.now() / 1000 < phone.accessExp()) {
      const still = await browse(gate, phone.clone(), '/api/me', { headers: FETCH });
      assert.equal(still.status, 200);
    }
    // ...after exp the gate sends it to refresh, which fails, so the navigation ends at login.
    await untilExpired(phone);
    const nav = await browse(gate, phone, '/dashboard', { follow: true });
    assert.deepEqual(nav.chain.map((c) => c.status), [302, 302, 200]);
    assert.equal(nav.chain[1].location, '/auth/login?return_to=%2Fdashboard');
    assert.match(nav.body.toString(), /<form method="post" action="\/auth\/login">/);
    assert.notEqual(phone.get('access'), phoneAccess);
    assert.equal(phone.get('access'), undefined, 'the failed refresh cleared the access cookie');
  });

  it('with the published list, logout, a password change and refresh-token reuse reach access tokens already issued within seconds', async () => {
    // Default leeway (30 s): these tokens stay valid by exp throughout; only the list refuses them.
    const listed = await startGate({
      ORIGIN_URL: origin.url,
      REVOCATION_URL: `${origin.url}/.well-known/edgegate-revocations`,
      REVOCATION_REFRESH_SECONDS: '1',
    });
    const me = (jar) => browse(listed, jar.clone(), '/api/me', { headers: FETCH });
    /** The jar's access token is refused as revoked (answered like an expired one) within 10 s. */
    const refusedSoon = async (jar, what) => {
      const deadline = Date.now() + 10_000;
      let res = await me(jar);
      while (res.status === 200 && Date.now() < deadline) {
        await sleep(100);
        res = await me(jar);
      }
      assert.equal(res.status, 401, `${what}: still accepted after 10 s`);
      assert.equal(json(res).error, 'token_expired');
      assert.ok(Date.now() / 1000 < jar.accessExp() + 30, `${what}: refused by the list, not by exp + leeway`);
    };
    try {
      // Logout on one device: its token; the other device's is untouched.
      const laptop = new Jar();
      const phone = new Jar();
      await login(listed, laptop);
      await login(listed, phone);
      const laptopBefore = laptop.clone();
      assert.equal((await browse(listed, laptop, '/auth/logout', { method: 'POST', headers: FETCH })).status, 204);
      await refusedSoon(laptopBefore, 'logout');
      assert.equal((await me(phone)).status, 200, 'the other device is untouched');
      await listed.waitForLog((l) => l.edgegate === 'decision' && l.reason === 'revoked');

      // A password change: every device of the user.
      const desk = new Jar();
      const tab = new Jar();
      await login(listed, desk, 'carol', 'carol-1234');
      await login(listed, tab, 'carol', 'carol-1234');
      const tabBefore = tab.clone();
      const changed = await browse(listed, desk, '/auth/password', {
        method: 'POST', headers: FETCH, form: { current_password: 'carol-1234', new_password: 'carol-5678' },
      });
      assert.equal(changed.status, 200, changed.body.toString());
      assert.equal(json(changed).revoked, 2);
      await refusedSoon(tabBefore, 'password change');
      assert.equal((await me(phone)).status, 200, 'alice is untouched');
      const again = new Jar();
      await login(listed, again, 'carol', 'carol-5678');
      assert.equal((await me(again)).status, 200, 'the new password signs in, valid at once');

      // Refresh-token reuse: the stolen family's access tokens too, the victim's included.
      const victim = new Jar();
      await login(listed, victim);
      const stolen = victim.clone();
      assert.equal((await refreshApi(listed, victim)).status, 204);
      await sleep(1100); // past the 1 s grace window
      assert.equal((await refreshApi(listed, stolen)).status, 401);
      await refusedSoon(victim, 'reuse');
      assert.equal((await me(phone)).status, 200, 'other sessions are untouched');
    } finally {
      await listed.dispose();
    }
  });

  it('tampered return_to never redirects off-site', async () => {
    const evil = ['https://evil.example/x', '//evil.example', '\\\\evil.example', '/\\evil.example', 'javascript:alert(1)',
      '/\t/evil.example', 'http:evil.example', ' //evil.example', '%2F%2Fevil.example'];
    const offSite = (loc) => new URL(loc, SITE).origin !== SITE;
    const jar = new Jar();
    for (const rt of evil) {
      // Login.
      const res = await browse(lenient, jar, '/auth/login', { method: 'POST', form: { username: 'bob', password: 'builder', return_to: rt } });
      assert.equal(res.status, 303);
      assert.equal(res.headers.location, '/', `login return_to=${JSON.stringify(rt)}`);
      // Refresh (success and failure).
      const q = `return_to=${encodeURIComponent(rt)}`;
      const ok = await browse(lenient, jar, `/auth/refresh?${q}`);
      assert.equal(ok.status, 302);
      assert.equal(ok.headers.location, '/', `refresh return_to=${JSON.stringify(rt)}`);
      const bad = await browse(lenient, new Jar(), `/auth/refresh?${q}`);
      assert.equal(bad.status, 302);
      assert.ok(!offSite(bad.headers.location), bad.headers.location);
      assert.equal(bad.headers.location, '/auth/login');
      // The login form only ever carries the sanitised value.
      const formPage = await browse(lenient, new Jar(), `/auth/login?${q}`);
      assert.match(formPage.body.toString(), /name="return_to" value="\/"/);
    }
    // A legitimate relative target survives, query and all.
    const good = await browse(lenient, jar, `/auth/refresh?return_to=${encodeURIComponent('/a/b?c=d&e=%20')}`);
    assert.equal(good.headers.location, '/a/b?c=d&e=%20');
  });

  it('with ASSERTION_SECRET the origin takes identity only from requests that passed the gate', async () => {
    const d = mkdtempSync(path.join(tmpdir(), 'edgegate-assertion-'));
    const ASSERTION_SECRET = 'a'.repeat(16) + SECRET; // ≥ 32 bytes, shared by gate and origin
    const o = await startOrigin(['--reference', ...USERS, '--data-dir', d, '--public-origin', SITE],
      { JWT_SECRET: SECRET, ASSERTION_SECRET }, { quiet: true });
    const g = await startGate({ ORIGIN_URL: o.url, ASSERTION_SECRET });
    try {
      const jar = new Jar();
      await login(g, jar);
      assert.equal(json(await browse(g, jar, '/api/me', { headers: FETCH })).sub, 'alice');
      // Straight to the origin with forged identity headers: no assertion, no identity.
      const forged = await fetch(`${o.url}/api/me`, { headers: { 'x-auth-sub': 'alice', 'x-auth-claims': jar.get('access').split('.')[1] } });
      assert.equal(forged.status, 401);
      // Logout everywhere through the gate still works.
      const all = await browse(g, jar, '/auth/logout-all', { method: 'POST', headers: FETCH });
      assert.equal(all.status, 200);
      assert.equal(json(all).revoked, 1);
      assert.ok(o.stderr.some((l) => l.includes('"assertion_rejected"') && l.includes('assertion_missing')));
    } finally {
      await g.dispose();
      await o.stop();
      rmSync(d, { recursive: true, force: true });
    }
  });

  it('a restart of the origin keeps sessions (SQLite and keys on disk)', async () => {
    const d = mkdtempSync(path.join(tmpdir(), 'edgegate-restart-'));
    const args = ['--reference', ...USERS, '--data-dir', d, '--access-ttl', String(ACCESS_TTL), '--public-origin', SITE];
    let o = await startOrigin(args, { JWT_SECRET: SECRET }, { quiet: true });
    const port = new URL(o.url).port;
    const g = await startGate({ ORIGIN_URL: o.url, LEEWAY_SECONDS: '0' });
    try {
      const jar = new Jar();
      await login(g, jar);
      const jwks = await (await fetch(`${o.url}/.well-known/jwks.json`)).json();
      await o.stop();
      // Same data directory, same port: a new process.
      o = await startOrigin(args, { JWT_SECRET: SECRET }, { quiet: true, listen: `127.0.0.1:${port}` });
      assert.deepEqual(await (await fetch(`${o.url}/.well-known/jwks.json`)).json(), jwks, 'keys kept');
      await untilExpired(jar);
      const back = await browse(g, jar, '/', { follow: true });
      assert.deepEqual(back.chain.map((c) => c.status), [302, 302, 200], JSON.stringify(back.chain));
      assert.match(back.body.toString(), /<strong id="sub">alice<\/strong>/);
      assert.equal(json(await browse(g, jar, '/api/me', { headers: FETCH })).sub, 'alice');
    } finally {
      await g.dispose();
      await o.stop();
      rmSync(d, { recursive: true, force: true });
    }
  });
});
