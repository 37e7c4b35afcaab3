// The standalone gate on Node.js: verified requests go to ORIGIN_URL. Configured from the
// environment (ALGORITHMS, JWT_SECRET, ORIGIN_URL, …), as a Worker is from [vars] and secrets.
import { serve } from 'edgegate/node';

const server = await serve({
  env: process.env,
  publicOrigin: process.env.PUBLIC_ORIGIN,
  port: Number(process.env.PORT ?? 8787),
});
console.log(`listening on http://127.0.0.1:${server.address().port}`);
