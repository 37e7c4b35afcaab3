// `Verifier`: the gate's own verification (parse → key → signature → claims), callable from JS in
// the same isolate: the differential tests and the in-runtime benchmark run exactly the gate's path.
import { Engine } from './wasm.js';
import { answer, importKey, verifyWith } from './webcrypto.mjs';
import { gateEnv, parseClaims } from './wrapper.mjs';

const MAX_ROUNDS = 4;

export class Verifier {
  #engine;

  /** Throws the configuration error (it names the key). `ORIGIN_URL` is not read. */
  constructor(vars) {
    // As in the wrapper form: there is no origin, the core gets the placeholder base.
    this.#engine = Engine.forVerifier(gateEnv(vars));
  }

  /** The core's verdict `{ sub, claims }` (claims: the verified payload segment); rejects with the reason code. */
  async #verified(token) {
    let answers;
    for (let round = 0; ; round++) {
      const r = JSON.parse(this.#engine.verify(String(token), Date.now(), answers, round >= MAX_ROUNDS));
      if (r.step === 'signature') {
        answers = await answer(this.#engine, r, answers);
        continue;
      }
      if (r.ok) return r;
      throw r.code;
    }
  }

  /** Resolves to `sub`; rejects with the reason code (e.g. `expired`, `bad_signature`). */
  async verify(token) {
    return (await this.#verified(token)).sub;
  }

  /**
   * Resolves to the frozen identity `{ sub, claims }`, exactly as the wrapper form hands it to the
   * app (claims parsed from the verified payload, as signed); rejects like `verify`.
   */
  async identity(token) {
    const r = await this.#verified(token);
    return Object.freeze({ sub: r.sub, claims: parseClaims(r.claims) });
  }

  /**
   * One signature check through the gate's stage 3: `jwk` (one JWK as JSON) is loaded the way a
   * `JWKS` entry is (`oct` allowed), then `signature` over `message` is checked for `alg`.
   * Resolves to a boolean; rejects when `alg` is unknown or the key is refused.
   */
  static async checkSignature(alg, jwk, message, signature) {
    const first = JSON.parse(Engine.checkSignature(alg, jwk, message, signature, undefined));
    if (first.ask === undefined) return first.verdict;
    // A key WebCrypto refuses to import verifies nothing (as in the gate).
    return verifyWith(await importKey(JSON.stringify(first.ask), alg), alg, signature, message);
  }
}
