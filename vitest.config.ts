import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['tests/**/*.test.ts'],
    globalSetup: ['tests/support/emulator.ts'],
    setupFiles: ['tests/support/stdout-to-console.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // 2 cores: a few files at a time keeps the one emulator responsive.
    maxWorkers: 2,
    // The functions log JSON lines and EMF metrics; show them only for tests that fail.
    silent: 'passed-only',
    // Tests run on the Lambda runtime's Node (installed by scripts/runtime/tools.ts); on an
    // older Node the SDK's notice about its future requirement only clutters test output.
    env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
  },
});
