// Compiled by scripts/test.sh (`tsc --noEmit -p js`): js/index.d.ts must describe how the module is
// used (a Worker's default export, the Verifier), and must reject misuse.
import worker, { Verifier, type Vars } from './index.js';

const env: Vars = { ORIGIN_URL: 'https://origin.example', ALGORITHMS: 'HS256', LEEWAY_SECONDS: 30, ACCEPT_BEARER: true };
export async function use(request: Request): Promise<string> {
  const response: Response = await worker.fetch(request, env);
  const v = new Verifier(env);
  const sub: string = await v.verify('a.b.c');
  const ok: boolean = await Verifier.checkSignature('ES256', '{}', new Uint8Array(), new Uint8Array());
  return `${response.status} ${sub} ${ok}`;
}

// @ts-expect-error verify takes a token string
new Verifier(env).verify(42);
// @ts-expect-error the signature is bytes
Verifier.checkSignature('ES256', '{}', new Uint8Array(), 'sig');
