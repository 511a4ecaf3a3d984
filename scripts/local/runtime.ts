/**
 * The local runtime: loads the handler modules, serves the HTTP API and polls the queues,
 * all against resources already provisioned on an AWS endpoint (moto or LocalStack).
 * Used by `npm start` (scripts/local/start.ts) and in-process by tests/support/local-stack.ts.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { SQSClient } from '@aws-sdk/client-sqs';
import type { CryptoKey } from 'jose';
import { drainAfterResponseTasks, pendingAfterResponseTasks } from '../../functions/shared/after-response.ts';
import { startEventSourceMapping, type EventSourceMapping } from './event-source-mapping.ts';
import { createHttpApi, type HttpApiOptions } from './http-api.ts';
import { defaultAudience, defaultIssuer } from './jwt.ts';
import { startLambdaApi } from './lambda-api.ts';
import { localRegion, type LocalFunction } from './lambda-context.ts';
import { clientConfig, type ProvisionedStack } from './provision.ts';
import { repoRoot } from './python-env.ts';
import { cors, functions, queues, routes, type FunctionName, type QueueName } from './topology.ts';

export interface RuntimeOptions {
  /** The AWS endpoint the stack was provisioned on. */
  endpoint: string;
  stack: ProvisionedStack;
  /** 0 picks a free port. */
  port: number;
  host?: string;
  /** Verifies bearer tokens (the JWT authorizer's key): a public key, or the issuer's JWKS URL. */
  publicKey?: CryptoKey;
  jwksUri?: string;
  issuer?: string;
  audience?: string | readonly string[];
  /** The JWT authorizer's clock (default the system's). */
  authorizerClock?: () => Date;
  /** Local-only endpoints served ahead of the routes, without a token (`POST /local/token`). */
  localEndpoints?: HttpApiOptions['localEndpoints'];
  /** Where `<name>/handler.ts` live; default `functions/`. */
  functionsDir?: string;
  /** Poll the topology's queues (default true). */
  pollQueues?: boolean;
  /** Long-poll wait of an idle queue; bounds how long stop() waits for a poller. Default 1 s. */
  idleWaitSeconds?: number;
  log?: (line: string) => void;
  /** Front-end origins CORS allows; default topology.json's `cors.local_allow_origins`. */
  corsAllowOrigins?: readonly string[];
}

export interface Runtime {
  /** `http://127.0.0.1:<port>` */
  url: string;
  /** Functions whose handler.ts does not exist yet (routes answer 501, queues not polled). */
  skipped: FunctionName[];
  /** Lambda's Invoke API for these functions (scripts/local/lambda-api.ts), for AWS services that invoke them (Cognito triggers). */
  lambdaEndpoint: string;
  /** Stops accepting, waits for in-flight invocations, drains after-response tasks. */
  stop(): Promise<void>;
}

/** The environment the handlers see, as Lambda would give it (plus what the local runtime adds). */
export function runtimeEnvironment(options: { endpoint: string; stack: ProvisionedStack }): Record<string, string> {
  return {
    ...options.stack.environment,
    AWS_ENDPOINT_URL: options.endpoint,
    AWS_REGION: localRegion,
    AWS_DEFAULT_REGION: localRegion,
    AWS_ACCESS_KEY_ID: 'test',
    AWS_SECRET_ACCESS_KEY: 'test',
    EVENT_FLOWS_LOCAL_RUNTIME: '1',
  };
}

/**
 * Imports a handler module. One that fails to load behaves as in Lambda (Runtime.ImportModuleError):
 * every invocation fails (500 through the API, batch retried from a queue), the rest keep working.
 */
async function loadHandler(file: string, log: (line: string) => void): Promise<LocalFunction['handler']> {
  let failure: Error;
  try {
    // A module's exports are whatever it declares; we only read `handler` and check it is a function.
    const module = (await import(pathToFileURL(file).href)) as { handler?: unknown };
    if (typeof module.handler === 'function') return module.handler as LocalFunction['handler'];
    failure = new Error(`${file} does not export a function named "handler"`);
  } catch (error) {
    failure = error instanceof Error ? error : new Error(String(error));
  }
  failure.name = 'Runtime.ImportModuleError';
  log(`ERROR could not load ${file.replace(`${repoRoot}/`, '')}: ${failure.message} (every invocation of it fails until it loads)`);
  return () => {
    throw failure;
  };
}

export async function startRuntime(options: RuntimeOptions): Promise<Runtime> {
  const log = options.log ?? ((line: string) => console.error(line));
  const issuer = options.issuer ?? process.env.JWT_ISSUER ?? defaultIssuer;
  const audience = options.audience ?? process.env.JWT_AUDIENCE ?? defaultAudience;
  // Before the handlers are imported: modules may read their configuration at load time.
  Object.assign(process.env, runtimeEnvironment({ endpoint: options.endpoint, stack: options.stack }));

  const functionsDir = options.functionsDir ?? join(repoRoot, 'functions');
  const loaded = new Map<FunctionName, LocalFunction>();
  const skipped: FunctionName[] = [];
  for (const [name, declaration] of Object.entries(functions) as Array<[FunctionName, (typeof functions)[FunctionName]]>) {
    const file = join(functionsDir, name, 'handler.ts');
    if (!existsSync(file)) {
      log(`skipped ${name}: ${file.replace(`${repoRoot}/`, '')} does not exist yet (its routes answer 501, its queue is not polled)`);
      skipped.push(name);
      continue;
    }
    loaded.set(name, {
      functionName: `${options.stack.prefix}-${name}`,
      memoryMb: declaration.memoryMb,
      timeoutSeconds: declaration.timeoutSeconds,
      handler: await loadHandler(file, log),
    });
  }

  const draining = new Set<Promise<void>>();
  const drainSoon = () => {
    const drain = drainAfterResponseTasks();
    draining.add(drain);
    void drain.finally(() => draining.delete(drain));
  };

  const api = createHttpApi({
    routes,
    functionFor: (name) => loaded.get(name as FunctionName),
    authorizer: { ...(options.publicKey ? { publicKey: options.publicKey } : {}), ...(options.jwksUri ? { jwksUri: options.jwksUri } : {}), issuer, audience, ...(options.authorizerClock ? { now: options.authorizerClock } : {}) },
    ...(options.localEndpoints ? { localEndpoints: options.localEndpoints } : {}),
    log,
    afterResponse: drainSoon,
    openApiDocument: readFileSync(join(repoRoot, 'docs', 'openapi.json'), 'utf8'),
    cors: { ...cors, allowOrigins: options.corsAllowOrigins ?? cors.localAllowOrigins },
  });
  const url = await api.listen(options.port, options.host ?? '127.0.0.1');
  const byDeployedName = new Map([...loaded.values()].map((fn) => [fn.functionName, fn]));
  const lambdaApi = await startLambdaApi({ functionNamed: (name) => byDeployedName.get(name), afterInvocation: drainSoon, log });

  const mappings: EventSourceMapping[] = [];
  if (options.pollQueues !== false) {
    const sqs = new SQSClient(clientConfig({ endpoint: options.endpoint, region: localRegion }));
    for (const [queue, declaration] of Object.entries(queues) as Array<[QueueName, (typeof queues)[QueueName]]>) {
      const fn = loaded.get(declaration.consumer);
      if (!fn) continue;
      mappings.push(
        startEventSourceMapping({
          sqs,
          queueUrl: options.stack.queueUrl(queue),
          fn,
          batchSize: declaration.batchSize,
          batchingWindowSeconds: declaration.batchingWindowSeconds,
          maximumConcurrency: declaration.maximumConcurrency,
          reportBatchItemFailures: true,
          idleWaitSeconds: options.idleWaitSeconds ?? 1,
          afterInvocation: drainSoon,
          log,
        }),
      );
    }
  }

  let stopped: Promise<void> | undefined;
  return {
    url,
    skipped,
    lambdaEndpoint: lambdaApi.endpoint,
    stop: () =>
      (stopped ??= (async () => {
        await api.close();
        await lambdaApi.close();
        await Promise.all(mappings.map((m) => m.stop()));
        // Tasks may queue more tasks; keep going until nothing is left.
        while (draining.size > 0 || pendingAfterResponseTasks() > 0) {
          await Promise.all([...draining]);
          await drainAfterResponseTasks();
        }
      })()),
  };
}
