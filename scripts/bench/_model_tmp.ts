import { freePort, startMoto } from '../local/moto.ts';
import { simulateAnalytics, simulateImport } from '../bench/scale.ts';
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
const write = process.stdout.write.bind(process.stdout);
process.stdout.write = (() => true) as typeof process.stdout.write;
console.log = () => undefined; console.warn = () => undefined;
const emulator = await startMoto({ port: await freePort() });
try {
  const which = process.argv[2];
  const r = which === 'import' ? await simulateImport(emulator.endpoint, [], { warmUpSeconds: 0.4, measuredSeconds: 1, burstSeconds: 0.4 }, 490) : await simulateAnalytics(emulator.endpoint, [], { warmUpSeconds: 0.1, measuredSeconds: 0.4, burstSeconds: 0.1 }, 200);
  write(JSON.stringify(r.model, null, 1) + '\n');
} finally { await emulator.stop(); }
