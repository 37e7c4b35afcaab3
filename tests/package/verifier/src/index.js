// A Worker that verifies a token from the `x-token` header with edgegate's Verifier and answers
// with what it returned: the identity and sub, the rejection code, or the configuration error.
import { Verifier } from 'edgegate';

let verifier;

export default {
  async fetch(request, env) {
    try {
      verifier ??= new Verifier(env);
    } catch (e) {
      return Response.json({ configError: String(e?.message ?? e) }, { status: 500 });
    }
    const token = request.headers.get('x-token') ?? '';
    try {
      const identity = await verifier.identity(token);
      const sub = await verifier.verify(token);
      return Response.json({ identity, sub, frozen: Object.isFrozen(identity) });
    } catch (code) {
      return Response.json({ rejected: code }, { status: 401 });
    }
  },
};
