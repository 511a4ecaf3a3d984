import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['tests/**/*.test.ts'],
    globalSetup: ['tests/support/emulator.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // 2 cores: a few files at a time keeps the one emulator responsive.
    maxWorkers: 2,
    // The functions log JSON lines and EMF metrics; show them only for tests that fail.
    silent: 'passed-only',
    // This machine runs Node 20 (the functions deploy to nodejs22.x); the SDK's notice about
    // its future Node 22 requirement is known and only clutters test output.
    env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
  },
});
