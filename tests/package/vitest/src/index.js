// The app under test: its own fetch handler behind the gate (the wrapper form).
import { withGate } from 'edgegate';

export default withGate({
  async fetch(request, env, ctx, identity) {
    if (identity === null) return new Response('ok');
    return Response.json({ sub: identity.sub, role: identity.claims.role ?? null, sawSub: request.headers.get('x-auth-sub') });
  },
});
