// What a user writes: requests to the gated Worker (its default export, in workerd), with tokens
// signed here by WebCrypto with the test-only JWT_SECRET.
// Named *.spec.js so that node --test, which runs tests/package/, leaves it to vitest.
import { env, exports } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';

const b64u = (bytes) => btoa(String.fromCharCode(...new Uint8Array(bytes))).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
const text = (s) => new TextEncoder().encode(s);

async function token(claims, secret = env.JWT_SECRET) {
  const input = `${b64u(text(JSON.stringify({ alg: 'HS256', typ: 'JWT' })))}.${b64u(text(JSON.stringify(claims)))}`;
  const key = await crypto.subtle.importKey('raw', text(secret), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  return `${input}.${b64u(await crypto.subtle.sign('HMAC', key, text(input)))}`;
}
const now = () => Math.floor(Date.now() / 1000);
const get = (path, jwt, headers = {}) => exports.default.fetch(`https://app.example${path}`, {
  headers: { accept: 'application/json', cookie: `access=${jwt}`, ...headers },
});

describe('the gated Worker', () => {
  it('valid token: the app answers with the verified identity, never the client\'s x-auth-sub', async () => {
    const res = await get('/api/me', await token({ sub: 'alice', role: 'reader', iat: now(), exp: now() + 600 }), { 'x-auth-sub': 'root' });
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toMatch(/^private/);
    expect(await res.json()).toEqual({ sub: 'alice', role: 'reader', sawSub: 'alice' });
  });

  it('expired token: 401 token_expired for an API call', async () => {
    const res = await get('/api/me', await token({ sub: 'alice', iat: now() - 1200, exp: now() - 600 }));
    expect(res.status).toBe(401);
    expect(await res.json()).toEqual({ error: 'token_expired', refresh: '/auth/refresh' });
  });

  it('forged token: 401 invalid_token', async () => {
    const res = await get('/api/me', await token({ sub: 'alice', iat: now(), exp: now() + 600 }, 'another-secret-0123456789abcdef'));
    expect(res.status).toBe(401);
    expect(await res.json()).toEqual({ error: 'invalid_token' });
  });

  it('public path: the app answers without a token', async () => {
    const res = await exports.default.fetch('https://app.example/health');
    expect(await res.text()).toBe('ok');
  });
});
