// A test Worker around the gate module's JS exports (src/edge/jsapi.rs): it runs signatures and tokens
// through exactly the worker's verification code (WebCrypto fast path, HMAC in Rust) and returns
// the verdicts. Used by tests/worker/webcrypto.test.mjs; bundled from build/index.js as built.
import { Verifier } from '../../../build/index.js';

const bytes = (b64url) => Uint8Array.from(atob(b64url.replace(/-/g, '+').replace(/_/g, '/')), (c) => c.charCodeAt(0));

export default {
  async fetch(request) {
    const body = await request.json();
    if (body.op === 'check') {
      const out = [];
      for (const v of body.vectors) {
        try {
          out.push(await Verifier.checkSignature(v.alg, v.jwk, bytes(v.msg), bytes(v.sig)));
        } catch (e) {
          out.push(`error: ${e?.message ?? e}`);
        }
      }
      return Response.json(out);
    }
    if (body.op === 'verify') {
      let verifier;
      try {
        verifier = new Verifier(body.vars);
      } catch (e) {
        return Response.json({ configError: String(e?.message ?? e) });
      }
      const out = [];
      for (const token of body.tokens) {
        try {
          out.push({ sub: await verifier.verify(token) });
        } catch (e) {
          out.push({ error: String(e?.message ?? e) });
        }
      }
      return Response.json(out);
    }
    return new Response('unknown op', { status: 400 });
  },
};
