import { cloudflareTest } from '@cloudflare/vitest-plugin';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  plugins: [
    cloudflareTest({
      wrangler: { configPath: './wrangler.toml' },
      // A test-only HMAC key: the tests sign their own tokens with it.
      miniflare: { bindings: { JWT_SECRET: 'test-secret-0123456789abcdef0123456789abcdef' } },
    }),
  ],
});
