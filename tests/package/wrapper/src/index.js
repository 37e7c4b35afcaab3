// The app: echoes what the gate handed it (request, identity, env and ctx), and serves
// /__cookies like the reference origin (three Set-Cookie headers, a public Cache-Control).
import { withGate, identityOf } from 'edgegate';

const app = {
  async fetch(request, env, ctx, identity) {
    const url = new URL(request.url);
    if (url.pathname === '/__cookies') {
      const headers = new Headers({ 'content-type': 'text/plain', 'cache-control': 'public, max-age=60' });
      headers.append('set-cookie', 'a=1; Path=/');
      headers.append('set-cookie', 'b=2; Path=/; HttpOnly');
      headers.append('set-cookie', 'c=3; Path=/; Expires=Wed, 21 Oct 2037 07:28:00 GMT; Secure');
      return new Response('cookies set', { headers });
    }
    return Response.json({
      method: request.method,
      url: request.url,
      headers: [...request.headers],
      body: request.body ? await request.text() : null,
      identity,
      identityOf: identityOf(request),
      frozen: identity === null || Object.isFrozen(identity),
      envBinding: env.APP_NAME ?? null,
      ctx: typeof ctx?.waitUntil === 'function',
      self: this === app,
    });
  },
};

export default withGate(app);
