/**
 * `npm start`: the whole system on this machine.
 *
 *   npm start [-- --port 3000] [--emulator-port 4566] [--dashboard-port 3001] [--endpoint URL] [--reset] [--state-dir DIR] [--skip-unrestorable]
 *
 * Starts moto on loopback (installing it on first run), provisions the topology under the
 * prefix `event-flows-local`, restores the saved state, creates the local user pool whose
 * tokens the API accepts (scripts/local/cognito.ts; `POST /local/token` signs in), serves the
 * HTTP API and polls the queues, and serves the analytics dashboard (web/, scripts/local/dashboard.ts). With `--endpoint` it uses an emulator you already run (LocalStack) and starts
 * none; state is then that emulator's business. Ctrl-C / SIGTERM stops everything cleanly.
 */
import { parseArgs } from 'node:util';

// `npm start` runs this on the Lambda runtime's Node (scripts/runtime/with-lambda-node.ts); run
// directly on an older Node, the SDK's notice about its future requirement only clutters the output.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
import { join } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SQSClient } from '@aws-sdk/client-sqs';
import { dashboardCorsOrigins, startDashboard, type Dashboard } from './dashboard.ts';
import { setUpLocalSignIn } from './cognito.ts';
import { localRegion } from './lambda-context.ts';
import { isPortFree, startMoto, waitUntilReachable, type RunningEmulator } from './moto.ts';
import { stateStore, UnrestorableStateError, type StateStore } from './persistence.ts';
import { clientConfig, provision } from './provision.ts';
import { repoRoot } from './python-env.ts';
import { startRuntime, type Runtime } from './runtime.ts';

const prefix = 'event-flows-local';
const snapshotIntervalMs = 30_000;

function usage(): string {
  return [
    'usage: npm start -- [options]',
    '  --port N            HTTP API port (default 3000)',
    '  --emulator-port N   port of the moto server started here (default 4566)',
    '  --dashboard-port N  port of the analytics dashboard (default 3001; 0: any free port)',
    '  --endpoint URL      use an AWS emulator that already runs (e.g. LocalStack); start none',
    '  --reset             start with empty tables and queues (deletes the saved state)',
    '  --state-dir DIR     where state is saved (default .local/state)',
    '  --skip-unrestorable start even if some saved items cannot be restored: they are moved to',
    '                      <state-dir>/quarantine/<time>.json and everything else is restored',
  ].join('\n');
}

function portOption(value: string | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`--${name} must be a port number, got "${value}"`);
  return port;
}

async function main(): Promise<void> {
  const startedAt = performance.now();
  const { values } = parseArgs({
    options: {
      port: { type: 'string' },
      'emulator-port': { type: 'string' },
      'dashboard-port': { type: 'string' },
      endpoint: { type: 'string' },
      reset: { type: 'boolean', default: false },
      'state-dir': { type: 'string' },
      'skip-unrestorable': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (values.help) {
    console.log(usage());
    return;
  }
  const port = portOption(values.port ?? process.env.PORT, 3000, 'port');
  const emulatorPort = portOption(values['emulator-port'], 4566, 'emulator-port');
  const dashboardPort = portOption(values['dashboard-port'], 3001, 'dashboard-port');
  const stateDir = values['state-dir'] ?? join(repoRoot, '.local', 'state');
  const say = (line: string) => console.log(line);
  const log = (line: string) => console.error(line);

  let emulator: RunningEmulator | undefined;
  let runtime: Runtime | undefined;
  let dashboard: Dashboard | undefined;
  let periodic: { stop(): Promise<void> } | undefined;
  let store: StateStore | undefined;
  let shuttingDown: Promise<void> | undefined;
  /** A start that could not restore the state must not save over it. */
  let restoreFailed = false;

  const shutdown = (reason: string): Promise<void> =>
    (shuttingDown ??= (async () => {
      say(`\n${reason}: stopping (waiting for running invocations)...`);
      await dashboard?.close();
      await runtime?.stop();
      await periodic?.stop();
      if (store && !restoreFailed) {
        try {
          const { written } = await store.save({ sourceQueues: true });
          say(written.length > 0 ? `saved state to ${stateDir} (${written.join(', ')})` : `state in ${stateDir} is up to date`);
        } catch (error) {
          log(`could not save state: ${String(error)}`);
        }
      }
      await emulator?.stop();
    })());

  let signals = 0;
  let firstSignalAt = 0;
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      signals++;
      // Wrappers (npm, npx, tsx) often relay the same Ctrl-C a moment later: only a signal
      // well after the first one means "stop now".
      if (signals > 1) {
        if (Date.now() - firstSignalAt < 1000) return;
        log('second signal: exiting without waiting');
        process.exit(130);
      }
      firstSignalAt = Date.now();
      void shutdown(signal).then(
        () => process.exit(0),
        (error: unknown) => {
          log(`error while stopping: ${String(error)}`);
          process.exit(1);
        },
      );
    });
  }

  try {
    // Fail fast, before the emulator starts, when the API port is taken.
    if (!(await isPortFree(port))) {
      throw new Error(`port ${port} on 127.0.0.1 is already in use (the HTTP API port); stop what listens there or choose another port with --port`);
    }
    if (dashboardPort !== 0 && !(await isPortFree(dashboardPort))) {
      throw new Error(`port ${dashboardPort} on 127.0.0.1 is already in use (the dashboard port); choose another port with --dashboard-port`);
    }
    let endpoint: string;
    if (values.endpoint) {
      endpoint = values.endpoint.replace(/\/$/, '');
      await waitUntilReachable(endpoint, 10_000).catch(() => {
        throw new Error(`nothing answers at ${endpoint} (--endpoint); start your emulator first`);
      });
      say(`AWS emulator:  ${endpoint} (yours; not started here, state is not saved by this runtime)`);
    } else {
      emulator = await startMoto({
        port: emulatorPort,
        ownProcessGroup: true,
        portInUseAdvice: `stop what listens there, use it with --endpoint http://127.0.0.1:${emulatorPort}, or choose another port with --emulator-port (the emulator port)`,
      });
      endpoint = emulator.endpoint;
      say(`AWS emulator:  ${endpoint} (moto)`);
    }
    if (signals > 0) return;

    const target = { endpoint, region: localRegion };
    const stack = await provision(target, prefix);
    if (!values.endpoint) {
      store = stateStore(stateDir, stack, { dynamodb: new DynamoDBClient(clientConfig(target)), sqs: new SQSClient(clientConfig(target)) });
      if (values.reset) {
        store.clear();
        say(`state:         reset (${stateDir} cleared)`);
      } else {
        const restored = await store.restore({ skipUnrestorable: values['skip-unrestorable'] }).catch((error: unknown) => {
          restoreFailed = true;
          throw error;
        });
        const from = restored.from === 'snapshot.previous' ? '; the newest snapshot was incomplete, the one before it was used' : '';
        say(`state:         ${stateDir} (restored ${restored.items} items, ${restored.messages} queued messages${from})`);
        if (restored.quarantined) say(`quarantined:   ${restored.quarantined.count} entries that could not be restored, in ${restored.quarantined.file}`);
      }
    }

    const signIn = await setUpLocalSignIn(target, stack);
    if (signals > 0) return;
    // The dashboard first: the API's CORS origins must include its origin (its port may be 0: any free one).
    let apiUrl = '';
    dashboard = await startDashboard({ port: dashboardPort, apiUrl: () => apiUrl });
    runtime = await startRuntime({ endpoint, stack, port, ...signIn.runtimeOptions, log, corsAllowOrigins: dashboardCorsOrigins(dashboard.url) });
    apiUrl = runtime.url;
    await signIn.connect(runtime);
    periodic = store?.startPeriodic(snapshotIntervalMs, log);

    say(`HTTP API:      ${runtime.url}   (try: curl ${runtime.url}/health)`);
    say(`contract:      ${runtime.url}/openapi.json (OpenAPI 3.1; docs/openapi.json)`);
    say(`sign-in:       ${signIn.description}`);
    say(`token:         npm run -s token -- --sub alice --tenant acme [--admin]   (or POST ${runtime.url}/local/token {"user","tenant","admin"})`);
    say(`dashboard:     ${dashboard.url}   (analytics; sign in as any user and tenant, admin ticked)`);
    say(`               curl -H "Authorization: Bearer $(npm run -s token -- --sub alice --tenant acme)" ${runtime.url}/items/notes`);
    say(`ready in ${((performance.now() - startedAt) / 1000).toFixed(1)} s; Ctrl-C stops everything`);
  } catch (error) {
    log(`error: ${error instanceof Error ? error.message : String(error)}`);
    if (error instanceof UnrestorableStateError) log(`the saved state was not touched (nothing is saved after a failed restore)`);
    await shutdown('start-up failed').catch(() => undefined);
    process.exit(1);
  }
}

await main();
