// Baseline: a Worker that forwards every request to ORIGIN_URL unchanged (no auth at all).
export default {
  async fetch(request, env) {
    const u = new URL(request.url);
    return fetch(env.ORIGIN_URL + u.pathname + u.search, {
      method: request.method, headers: request.headers, body: request.body, redirect: 'manual',
    });
  },
};
