// Types of `edgegate/node` (js/node.mjs): the gate on Node.js's `node:http`. Needs @types/node.
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { GatedFetch, Vars } from './index.js';

export { withGate, identityOf, edgegateHono, Verifier } from './index.js';
export type { GatedFetch, GateFetch, Identity, Vars } from './index.js';

/** Request headers accepted by `serve`'s server, in bytes, all headers together. */
export declare const MAX_HEADER_BYTES: number;

/** The `ctx` an app gets in this form (there is no runtime to extend a request's life for). */
export interface NodeContext {
  /** Lets `promise` run on; a rejection is logged. */
  waitUntil(promise: Promise<unknown>): void;
  passThroughOnException(): void;
}

export interface NodeGateOptions<Env = Vars> {
  /** `[vars]` and secrets (e.g. `process.env`): the same keys as in a Worker. */
  env: Env;
  /**
   * The wrapper form: your fetch handler behind the gate (as `withGate(handler)`), called with
   * `(request, env, ctx, identity)`. Without it, the standalone form: forwarded to `ORIGIN_URL`.
   */
  handler?: GatedFetch<Env, NodeContext> | { fetch: GatedFetch<Env, NodeContext> };
  /**
   * `scheme://host[:port]` clients reach the server at (e.g. `https://app.example`): the origin of
   * the URL the gate and your handler see, and the origin the CSRF guard compares `Origin` with.
   * Without it, the request's `Host` header is taken (with `http:`, or `https:` on a TLS socket).
   */
  publicOrigin?: string;
}

/** A Node request listener running the gate: `http.createServer(createHandler({ env }))`. */
export declare function createHandler<Env = Vars>(
  options: NodeGateOptions<Env>,
): (req: IncomingMessage, res: ServerResponse) => void;

export interface ServeOptions<Env = Vars> extends NodeGateOptions<Env> {
  /** Default 8787; 0 picks a free port (read it from `server.address()`). */
  port?: number;
  /** Default `127.0.0.1`. */
  hostname?: string;
}

/** Starts an HTTP server running `createHandler(options)`; resolves once it listens. */
export declare function serve<Env = Vars>(options: ServeOptions<Env>): Promise<Server>;
