import { defineConfig } from 'vitest/config';
import { playwright } from '@vitest/browser-playwright';

// Four projects: Node unit/e2e (real sockets on 127.0.0.1), the same crypto suite with
// crypto.subtle removed (the pure-JS path hybrid web views on http: pages get), the same
// suite on the gateway's opt-in node:crypto engine (useNodeCrypto), and real
// Chromium for browser behaviour (IndexedDB, Web Locks, script tags).
export default defineConfig({
  test: {
    testTimeout: 30_000,
    hookTimeout: 30_000,
    projects: [
      {
        extends: true,
        test: {
          name: 'node',
          environment: 'node',
          include: ['test/unit/**/*.test.ts', 'test/crypto/**/*.test.ts', 'test/interop/**/*.test.ts', 'test/e2e/**/*.test.ts'],
          setupFiles: ['test/setup/node.ts'],
        },
      },
      {
        extends: true,
        test: {
          name: 'no-subtle',
          environment: 'node',
          include: ['test/crypto/**/*.test.ts'],
          setupFiles: ['test/setup/no-subtle.ts'],
        },
      },
      {
        extends: true,
        test: {
          name: 'node-crypto',
          environment: 'node',
          include: ['test/crypto/**/*.test.ts'],
          setupFiles: ['test/setup/node-crypto.ts'],
        },
      },
      {
        extends: true,
        test: {
          name: 'browser',
          include: ['test/browser/**/*.test.ts'],
          browser: {
            enabled: true,
            headless: true,
            screenshotFailures: false,
            instances: [{ browser: 'chromium' }],
            provider: playwright({
              launchOptions: {
                executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
                args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'],
              },
            }),
          },
        },
      },
    ],
  },
});
