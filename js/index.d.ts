// Types of the Worker module built into build/index.js (js/worker.mjs).

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

/** Verification alone, exactly as the gate verifies a cookie token (no remote JWK Set). */
export declare class Verifier {
  /** Throws the configuration error; its message names the key. */
  constructor(vars: Vars);
  /**
   * Resolves to the token's `sub`; rejects with the reason code as a string (`"expired"`,
   * `"bad_signature"`, `"alg_not_allowed"`, …).
   */
  verify(token: string): Promise<string>;
  /**
   * One signature check through the gate's stage 3: `jwk` (one JWK as JSON; `oct` allowed) loaded
   * the way a `JWKS` entry is, then `signature` over `message` checked for `alg`. Rejects when
   * `alg` is unknown or the key is refused.
   */
  static checkSignature(alg: string, jwk: string, message: Uint8Array, signature: Uint8Array): Promise<boolean>;
}
