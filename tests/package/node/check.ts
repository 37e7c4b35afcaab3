// The types of `edgegate/node` as a TypeScript user with @types/node compiles against them.
import http from 'node:http';
import { createHandler, serve, withGate, Verifier, type Identity, type NodeContext } from 'edgegate/node';

interface Env { ALGORITHMS: string; JWT_SECRET: string; APP_NAME?: string }
const env: Env = { ALGORITHMS: 'HS256', JWT_SECRET: 's'.repeat(32) };

export const listener: http.RequestListener = createHandler({ env: process.env });
export const server: Promise<http.Server> = serve({
  env,
  port: 0,
  hostname: '127.0.0.1',
  publicOrigin: 'https://app.example',
  handler: async (request: Request, e: Env, ctx: NodeContext, identity: Identity | null) => {
    ctx.waitUntil(Promise.resolve());
    return Response.json({ sub: identity?.sub ?? null, app: e.APP_NAME ?? null, url: request.url });
  },
});
export const wrapped = withGate((request) => new Response(request.url));
export const verifier = new Verifier(env);

// @ts-expect-error env is required
createHandler({});
// @ts-expect-error the handler must return a Response
serve({ env, handler: () => 'ok' });
// @ts-expect-error the port is a number
serve({ env, port: '8787' });
