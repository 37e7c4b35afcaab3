// ORIGIN as a service binding: the gate in front of another Worker or a Pages project without a
// public hop. The binding here points at the real echo origin (Miniflare's external service), so
// what the origin Worker would receive is what the echo origin reports.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startOrigin, startGate, accessToken, echo, header } from './harness.mjs';

const binding = (origin) => ({ serviceBindings: { ORIGIN: { external: { address: new URL(origin.url).host, http: {} } } } });
const cookie = (t) => ({ headers: { accept: 'application/json', cookie: `access=${t}`, 'x-auth-sub': 'mallory' } });

describe('ORIGIN service binding', () => {
  let origin;
  before(async () => { origin = await startOrigin([], {}, { quiet: true }); });
  after(async () => { await origin.stop(); });

  it('forwards through the binding with the identity, on the request\'s own host without ORIGIN_URL', async () => {
    // ORIGIN_URL unset: the origin Worker sees the gate's own URL; nothing goes over the network.
    const gate = await startGate({ ORIGIN_URL: undefined }, { miniflare: binding(origin) });
    try {
      const res = await gate.fetch('/api/items?page=2', cookie(accessToken('alice')));
      assert.equal(res.status, 200);
      const body = await echo(res);
      assert.equal(body.path, '/api/items');
      assert.equal(header(body, 'x-auth-sub'), 'alice');
      assert.equal(header(body, 'host'), 'gate.test');
      assert.equal(res.headers.get('cache-control'), 'private');
      // The contract holds on this path too: a missing token is answered at the edge.
      const missing = await gate.fetch('/api/items', { headers: { accept: 'application/json' } });
      assert.equal(missing.status, 401);
      assert.deepEqual(await missing.json(), { error: 'missing_token' });
    } finally { await gate.dispose(); }
  });

  it('keeps ORIGIN_URL\'s path prefix when both are set', async () => {
    const gate = await startGate({ ORIGIN_URL: 'https://origin.internal/app' }, { miniflare: binding(origin) });
    try {
      const body = await echo(await gate.fetch('/api/items', cookie(accessToken('bob'))));
      assert.equal(body.path, '/app/api/items');
      assert.equal(header(body, 'x-auth-sub'), 'bob');
      assert.equal(header(body, 'host'), 'origin.internal');
    } finally { await gate.dispose(); }
  });

  it('refuses an ORIGIN that is not a service binding: 500 misconfigured, the log names ORIGIN', async () => {
    await origin.clearLog();
    const gate = await startGate({ ORIGIN: 'http://127.0.0.1:9' });
    try {
      const res = await gate.fetch('/api/items', cookie(accessToken('alice')));
      assert.equal(res.status, 500);
      assert.deepEqual(await res.json(), { error: 'misconfigured' });
      const line = await gate.waitForLog((l) => l.reason === 'misconfigured');
      assert.equal(line.key, 'ORIGIN');
      assert.deepEqual(await origin.log(), []);
    } finally { await gate.dispose(); }
  });
});
