/**
 * The local runtime in-process, for e2e tests of the HTTP API contract:
 *
 *   const local = await startLocalStack();
 *   const res = await fetch(`${local.baseUrl}/items/notes`, { headers: { authorization: `Bearer ${await local.token()}` } });
 *   await local.stop();
 *
 * It provisions a private copy of the topology on the test run's emulator (unique prefix),
 * points this process's SDK clients at it, serves the real handlers on a free port, polls the
 * queues, and verifies tokens with a key generated for this test file. One per test file
 * (it sets process.env, which handler modules read).
 *
 * `baseUrl` is a contract-checking proxy (./contract.ts): every response is checked against
 * docs/openapi.json, and `stop()` fails the file naming each response that broke it.
 */
import type { ProvisionedStack } from '../../scripts/local/provision.ts';
import { localTokenEndpoint } from '../../scripts/local/cognito.ts';
import { generateSigningKeys, mintToken, type TokenOptions } from '../../scripts/local/jwt.ts';
import { startRuntime } from '../../scripts/local/runtime.ts';
import { startContractProxy } from './contract.ts';
import { awsEndpoint, provisionTestStack } from './stack.ts';

export interface LocalStack {
  /** `http://127.0.0.1:<port>`, no trailing slash. */
  baseUrl: string;
  /** The provisioned resources (table names, queue URLs) for direct SDK assertions. */
  stack: ProvisionedStack;
  /**
   * A bearer token the API accepts: `sub` "alice", `tenant` "acme", scope "items" unless
   * overridden; `{ admin: true }` adds the admin scope; `{ broken: 'expired' | 'not-yet-valid'
   * | 'wrong-issuer' | 'wrong-audience' | 'wrong-signature' | 'alg-none' }` makes one it must refuse.
   */
  token(options?: Partial<TokenOptions>): Promise<string>;
  /** Stops the runtime (waits for in-flight invocations and after-response tasks); throws if a response broke the contract. */
  stop(): Promise<void>;
}

export interface LocalStackOptions {
  pollQueues?: boolean;
  visibilityTimeoutSeconds?: number;
  /** Front-end origins CORS allows (a browser test's dashboard). */
  corsAllowOrigins?: readonly string[];
  /** Serve `POST /local/token` as `npm start` does on an emulator without user pools: self-signed tokens with the asked tenant and scope. */
  localSignIn?: boolean;
}

export async function startLocalStack(options: LocalStackOptions = {}): Promise<LocalStack> {
  const stack = await provisionTestStack({ visibilityTimeoutSeconds: options.visibilityTimeoutSeconds ?? 2 });
  const keys = await generateSigningKeys();
  const runtime = await startRuntime({
    endpoint: awsEndpoint(),
    stack,
    port: 0,
    publicKey: keys.publicKey,
    issuer: 'event-flows-local',
    audience: 'event-flows',
    pollQueues: options.pollQueues ?? true,
    ...(options.corsAllowOrigins && { corsAllowOrigins: options.corsAllowOrigins }),
    ...(options.localSignIn && {
      localEndpoints: {
        'POST /local/token': localTokenEndpoint(async ({ user, tenant, admin }) => ({ accessToken: await mintToken(keys, { sub: user, tenant, admin }), expiresIn: 3600, sub: user })),
      },
    }),
    // Skipped handlers are expected while the system is being built; other lines are errors worth seeing.
    log: (line) => {
      if (!line.startsWith('skipped ')) console.error(line);
    },
  });
  const contract = await startContractProxy(runtime.url);
  return {
    baseUrl: contract.url,
    stack,
    token: (tokenOptions = {}) => mintToken(keys, { sub: 'alice', tenant: 'acme', ...tokenOptions }),
    stop: async () => {
      await contract.close();
      await runtime.stop();
      const problems = contract.problems();
      if (problems.length > 0) throw new Error(`${problems.length} of ${contract.checked()} responses broke docs/openapi.json:\n${problems.join('\n')}`);
    },
  };
}
