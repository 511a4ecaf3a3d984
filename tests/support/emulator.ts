/**
 * vitest global setup: one moto server for the whole run, on a free loopback port.
 * Test files provision their own resources under a unique prefix (see ./stack.ts), so
 * they never see each other's data.
 */
import type { TestProject } from 'vitest/node';
import { freePort, startMoto } from '../../scripts/local/moto.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    awsEndpoint: string;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const emulator = await startMoto({ port: await freePort() });
  project.provide('awsEndpoint', emulator.endpoint);
  return () => emulator.stop();
}
