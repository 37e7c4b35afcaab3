// Types of the Worker module built into build/index.js (js/worker.mjs), and of the npm package
// `edgegate` (packages/edgegate/).

/**
 * `[vars]` and secrets, exactly as the Worker receives them (README "Configuration"). Values may be
 * strings, or TOML numbers, booleans and tables (read as their text / JSON form).
 */
export type Vars = Record<string, string | number | boolean | object | undefined>;

/** The gate: configured from `env` once per isolate, then one decision per request. */
declare const worker: {
  fetch(request: Request, env: Vars): Promise<Response>;
};
export default worker;

/** The verified identity the gate hands to the app in the wrapper form. */
export interface Identity {
  /** The `sub` claim (the same text as the `x-auth-sub` header). */
  readonly sub: string;
  /** The verified claims, parsed from the JSON exactly as signed (the `x-auth-claims` header). */
  readonly claims: { readonly sub: string; readonly exp: number; readonly [claim: string]: unknown };
}

/**
 * The app's fetch handler behind the gate: the request as the origin would receive it (client's
 * `x-auth-*` stripped, the gate's own identity headers set), and `identity`: the verified identity,
 * or `null` on a public path (`PUBLIC_PATHS`, `REFRESH_PATH`, `LOGIN_PATH`, a `public` rule).
 */
export type GatedFetch<Env = Vars, Ctx = unknown> = (
  request: Request,
  env: Env,
  ctx: Ctx,
  identity: Identity | null,
) => Response | Promise<Response>;

/** A Worker's `fetch` handler, as `withGate` returns it. */
export type GateFetch<Env = Vars, Ctx = unknown> = (request: Request, env: Env, ctx: Ctx) => Promise<Response>;

/**
 * The wrapper form: `handler` (a function, or an object with `fetch` such as a Worker's default
 * export or a Hono app) runs behind the gate in the same isolate. The gate decides exactly as the
 * default export does, configured from `env` the same way, except that `ORIGIN_URL` is not read
 * (there is no origin) and no `x-auth-assertion` is added. Other members of an object handler
 * (`scheduled`, `queue`, …) are kept.
 */
export declare function withGate<Env = Vars, Ctx = unknown>(
  handler: GatedFetch<Env, Ctx>,
): { fetch: GateFetch<Env, Ctx> };
export declare function withGate<Env = Vars, Ctx = unknown, H extends { fetch: GatedFetch<Env, Ctx> } = { fetch: GatedFetch<Env, Ctx> }>(
  handler: H & { fetch: GatedFetch<Env, Ctx> },
): Omit<H, 'fetch'> & { fetch: GateFetch<Env, Ctx> };

/**
 * The verified identity of a request `withGate` handed to the app (for frameworks that pass the
 * Request on but not a fourth argument, e.g. Hono's `c.req.raw`); `null` for any other request,
 * including a copy of it.
 */
export declare function identityOf(request: Request): Identity | null;

/**
 * The part of a Hono `Context` the middleware uses (structural: no dependency on hono's types).
 * `req.raw` is replaced by the gated request; `res` is replaced after `next()`.
 */
export interface GateContext {
  req: { raw: Request };
  env: unknown;
  set(key: 'edgegate', value: Identity | null): void;
  res: Response | undefined;
}

/** Options of `edgegateHono`. */
export interface EdgegateHonoOptions {
  /** Configuration over the Worker's `c.env` (each key given here wins); `ORIGIN_URL` is not read. */
  vars?: Vars;
}

/** A Hono middleware: `(c, next) => …`, assignable to hono's `MiddlewareHandler`. */
export type GateMiddleware = (c: GateContext, next: () => Promise<void>) => Promise<Response | void>;

/**
 * The Hono middleware form: `app.use('/app/*', edgegateHono())`. Decides exactly as `withGate`
 * (answers at the edge returned without calling `next()`); on a forward, `c.get('edgegate')` is the
 * verified identity (`null` on a public path), `c.req.raw` is the request as the origin would
 * receive it (client's `x-auth-*` stripped, the gate's set), and after `next()` the response gets
 * `Cache-Control: private` (authenticated) and `Server-Timing` (when enabled).
 */
export declare function edgegateHono(options?: EdgegateHonoOptions): GateMiddleware;

/** Verification alone, exactly as the gate verifies a cookie token (no remote JWK Set). */
export declare class Verifier {
  /**
   * Throws the configuration error; its message names the key. Reads the gate's key and claim
   * settings (`ALGORITHMS`, `JWT_SECRET`, `JWKS`, `ISSUER`, …); `ORIGIN_URL` is not read.
   */
  constructor(vars: Vars | object);
  /**
   * Resolves to the token's `sub`; rejects with the reason code as a string (`"expired"`,
   * `"bad_signature"`, `"alg_not_allowed"`, …).
   */
  verify(token: string): Promise<string>;
  /**
   * Resolves to the verified identity, frozen, exactly as the wrapper form hands it to the app
   * (`claims` parsed from the verified payload, as signed); rejects like `verify`.
   */
  identity(token: string): Promise<Identity>;
  /**
   * One signature check through the gate's stage 3: `jwk` (one JWK as JSON; `oct` allowed) loaded
   * the way a `JWKS` entry is, then `signature` over `message` checked for `alg`. Rejects when
   * `alg` is unknown or the key is refused.
   */
  static checkSignature(alg: string, jwk: string, message: Uint8Array, signature: Uint8Array): Promise<boolean>;
}
