import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const src = (name: string) => fileURLToPath(new URL(`./packages/${name}/src/index.ts`, import.meta.url));

export default defineConfig({
  resolve: {
    // Tests run against the sources; test/packaging imports the built dist/ through the exports maps.
    alias: {
      '@slmkit/core/backend': fileURLToPath(new URL('./packages/core/src/backend.ts', import.meta.url)),
      '@slmkit/core/testing': fileURLToPath(new URL('./packages/core/src/testing.ts', import.meta.url)),
      '@slmkit/core': src('core'),
      '@slmkit/node': src('node'),
      '@slmkit/web': src('web'),
    },
  },
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 300_000,
    pool: 'forks',
    // The JSON report lets .ci/run print a plain "N passed, N failed" summary line.
    reporters: ['default', 'json'],
    outputFile: { json: 'test-results/vitest.json' },
  },
});
