/** Provisions a private copy of the topology on the test run's emulator. */
import { randomBytes } from 'node:crypto';
import { inject } from 'vitest';
import { provision, type ProvisionedStack } from '../../scripts/local/provision.ts';

export const region = 'us-east-1';

export function awsEndpoint(): string {
  return inject('awsEndpoint');
}

/**
 * Provisions the topology under a fresh prefix and points this process's SDK clients
 * (through the same environment variables Lambda gives the functions) at it.
 */
export async function provisionTestStack(options: { visibilityTimeoutSeconds?: number } = {}): Promise<ProvisionedStack> {
  const endpoint = awsEndpoint();
  const prefix = `t${randomBytes(4).toString('hex')}`;
  const stack = await provision({ endpoint, region }, prefix, { visibilityTimeoutSeconds: options.visibilityTimeoutSeconds ?? 2 });
  Object.assign(process.env, stack.environment, {
    AWS_ENDPOINT_URL: endpoint,
    AWS_REGION: region,
    AWS_ACCESS_KEY_ID: 'test',
    AWS_SECRET_ACCESS_KEY: 'test',
  });
  return stack;
}
