// Compiled by scripts/test.sh (`tsc --noEmit -p js`): js/index.d.ts must describe how the module is
// used (a Worker's default export, the wrapper form, the Verifier), and must reject misuse.
import worker, { Verifier, withGate, identityOf, edgegateHono, type GateContext, type Identity, type Vars } from './index.js';

const env: Vars = { ORIGIN_URL: 'https://origin.example', ALGORITHMS: 'HS256', LEEWAY_SECONDS: 30, ACCEPT_BEARER: true };
export async function use(request: Request): Promise<string> {
  const response: Response = await worker.fetch(request, env);
  const v = new Verifier(env);
  const sub: string = await v.verify('a.b.c');
  const ok: boolean = await Verifier.checkSignature('ES256', '{}', new Uint8Array(), new Uint8Array());
  // Verification only: no ORIGIN_URL needed; the identity as the wrapper form gives it.
  const id: Identity = await new Verifier({ ALGORITHMS: 'HS256', JWT_SECRET: 's'.repeat(32) }).identity('a.b.c');
  const exp: number = id.claims.exp;
  return `${response.status} ${sub} ${ok} ${id.sub} ${exp}`;
}

// @ts-expect-error verify takes a token string
new Verifier(env).verify(42);
// A Worker's typed env (an interface, as `wrangler types` writes it) configures a Verifier too.
export const typed = (e: Env) => new Verifier(e);
// @ts-expect-error the configuration is an object of keys
new Verifier('ALGORITHMS=HS256');
// @ts-expect-error identity takes a token string
new Verifier(env).identity(null);
// @ts-expect-error the verified identity is read-only
new Verifier(env).identity('a.b.c').then((id) => { id.sub = 'root'; });
// @ts-expect-error the signature is bytes
Verifier.checkSignature('ES256', '{}', new Uint8Array(), 'sig');

// The wrapper form: an object handler (its other members kept), typed env and ctx inferred.
interface Env { JWT_SECRET: string; ALGORITHMS: string; KV: { get(key: string): Promise<string | null> } }
interface Ctx { waitUntil(p: Promise<unknown>): void }
const app = withGate({
  async fetch(request: Request, env: Env, ctx: Ctx, identity: Identity | null): Promise<Response> {
    if (identity === null) return new Response('public');
    const roles: unknown = identity.claims.roles;
    const exp: number = identity.claims.exp;
    ctx.waitUntil(env.KV.get(identity.sub));
    return Response.json({ sub: identity.sub, roles, exp, url: request.url });
  },
  async scheduled(): Promise<void> {},
});
export async function wrapped(request: Request, env: Env, ctx: Ctx): Promise<Response> {
  await app.scheduled();
  return app.fetch(request, env, ctx);
}
// A function, and a handler that takes fewer arguments (a Hono app's fetch) with identityOf.
const fn = withGate((request, env, ctx, identity) => new Response(identity?.sub ?? 'anonymous'));
const hono = withGate({ fetch: (request: Request) => new Response(identityOf(request)?.sub ?? null) });
export const handlers = [fn.fetch, hono.fetch];

// @ts-expect-error the app must return a Response
withGate({ fetch: () => 'ok' });
// @ts-expect-error identity may be null on a public path
withGate((request, env, ctx, identity) => new Response(identity.sub));
// @ts-expect-error the identity is read-only
withGate((request, env, ctx, identity) => { if (identity) identity.sub = 'root'; return new Response(); });
// @ts-expect-error the wrapper's fetch takes the env the app declared
app.fetch(new Request('https://a.example/'), { ALGORITHMS: 'HS256' }, { waitUntil() {} });

// The Hono middleware, against a structural stand-in for hono's Context (typed variables included).
interface HonoLike {
  req: { raw: Request; header(name: string): string | undefined };
  env: Env;
  res: Response;
  set<K extends keyof { edgegate: Identity | null }>(key: K, value: { edgegate: Identity | null }[K]): void;
  get(key: 'edgegate'): Identity | null;
}
type Middleware = (c: HonoLike, next: () => Promise<void>) => Promise<Response | void>;
const mw: Middleware = edgegateHono();
const withVars: Middleware = edgegateHono({ vars: { ALGORITHMS: 'HS256', PUBLIC_PATHS: '/health' } });
export async function honoRoute(c: HonoLike): Promise<Response> {
  await mw(c, async () => {});
  await withVars(c, async () => {});
  const id = c.get('edgegate');
  return Response.json({ sub: id?.sub ?? null });
}

// @ts-expect-error vars is an object of keys, not a string
edgegateHono({ vars: 'ALGORITHMS=HS256' });
// @ts-expect-error unknown option
edgegateHono({ origin: 'https://a.example' });
// @ts-expect-error a context without a raw request is not a Hono context
edgegateHono()({ env: {}, res: undefined, set() {} } satisfies Omit<GateContext, 'req'>, async () => {});
// @ts-expect-error next returns a promise
edgegateHono()({} as GateContext, () => undefined);
