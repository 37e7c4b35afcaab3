// An app's own fetch handler behind the gate on Node.js (the wrapper form). It echoes what the
// gate handed it, and serves /__cookies like the reference origin (three Set-Cookie headers).
import { serve, identityOf } from 'edgegate/node';

async function handler(request, env, ctx, identity) {
  const url = new URL(request.url);
  if (url.pathname === '/__cookies') {
    const headers = new Headers({ 'content-type': 'text/plain', 'cache-control': 'public, max-age=60' });
    headers.append('set-cookie', 'a=1; Path=/');
    headers.append('set-cookie', 'b=2; Path=/; HttpOnly');
    headers.append('set-cookie', 'c=3; Path=/; Expires=Wed, 21 Oct 2037 07:28:00 GMT; Secure');
    return new Response('cookies set', { headers });
  }
  const body = request.body ? new Uint8Array(await request.arrayBuffer()) : null;
  return Response.json({
    method: request.method,
    url: request.url,
    headers: [...request.headers],
    bodyLength: body?.byteLength ?? null,
    identity,
    identityOf: identityOf(request),
    frozen: identity === null || Object.isFrozen(identity),
    envBinding: env.APP_NAME ?? null,
    ctx: typeof ctx?.waitUntil === 'function',
  });
}

const server = await serve({
  env: process.env,
  handler,
  publicOrigin: process.env.PUBLIC_ORIGIN,
  port: Number(process.env.PORT ?? 8787),
});
console.log(`listening on http://127.0.0.1:${server.address().port}`);
