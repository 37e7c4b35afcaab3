// Benchmark Worker for one wasm decision: `Engine.decide` called N times in a loop with a valid
// HS256 cookie (the common path: forward), or N `console.log`s of a decision-sized line. Bundled by
// run.mjs with the glue of the build in target/edge-js/.
import { initSync, Engine } from './wasm.js';
import module from './index_bg.wasm';

initSync({ module });
const LINE = '{"edgegate":"decision","decision":"forward","reason":"ok","status":null,"method":"GET","path":"/api/items","source":"cookie","alg":"HS256","token_age_s":0,"expires_in_s":3600,"rule":"default","verify_us":0}';
let engine;

export default {
  async fetch(request, env) {
    engine ??= new Engine(env);
    const u = new URL(request.url);
    const n = Number(u.searchParams.get('n') ?? '0');
    const cookie = request.headers.get('x-cookie');
    const t = Date.now();
    let last = '';
    if (u.searchParams.get('what') === 'log') {
      for (let i = 0; i < n; i++) console.log(LINE);
    } else {
      for (let i = 0; i < n; i++) {
        last = engine.decide('GET', 'http://127.0.0.1:8787/api/items?page=2', cookie, null, '*/*', null, null, null, null,
          'host\ncookie\n', null, t, t, false, false, undefined, false);
      }
    }
    return new Response(last);
  },
};
