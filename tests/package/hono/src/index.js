// The app: a Hono app with edgegate as its middleware; echoes what the handler sees (the request,
// the identity on the context, env and ctx), and serves /__cookies like the reference origin
// (three Set-Cookie headers, a public Cache-Control).
import { Hono } from 'hono';
import { edgegateHono, identityOf } from 'edgegate';

const app = new Hono();
app.use('*', edgegateHono());

app.get('/__cookies', (c) => {
  c.header('cache-control', 'public, max-age=60');
  c.header('set-cookie', 'a=1; Path=/', { append: true });
  c.header('set-cookie', 'b=2; Path=/; HttpOnly', { append: true });
  c.header('set-cookie', 'c=3; Path=/; Expires=Wed, 21 Oct 2037 07:28:00 GMT; Secure', { append: true });
  return c.text('cookies set');
});

app.all('*', async (c) => {
  const identity = c.get('edgegate');
  return c.json({
    method: c.req.method,
    url: c.req.url,
    headers: [...c.req.raw.headers],
    body: c.req.raw.body ? await c.req.text() : null,
    identity,
    identityOf: identityOf(c.req.raw),
    headerSub: c.req.header('x-auth-sub') ?? null,
    frozen: identity === null || Object.isFrozen(identity),
    envBinding: c.env.APP_NAME ?? null,
    ctx: typeof c.executionCtx?.waitUntil === 'function',
  });
});

export default app;
