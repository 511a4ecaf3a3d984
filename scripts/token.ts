/**
 * Prints a bearer token the local HTTP API accepts, signed with the local key in .local/jwt/.
 *
 *   npm run -s token -- --sub alice --tenant acme [--admin] [--ttl 3600]
 */
import { parseArgs } from 'node:util';
import { defaultAudience, defaultIssuer, loadOrCreateSigningKeys, mintToken } from './local/jwt.ts';

try {
  const { values } = parseArgs({
    options: {
      sub: { type: 'string', default: 'alice' },
      tenant: { type: 'string', default: 'acme' },
      admin: { type: 'boolean', default: false },
      ttl: { type: 'string', default: '3600' },
    },
    strict: true,
  });
  const ttl = Number(values.ttl);
  if (!Number.isInteger(ttl) || ttl <= 0) throw new Error(`--ttl must be a whole number of seconds, got "${values.ttl}"`);
  const keys = await loadOrCreateSigningKeys();
  const token = await mintToken(keys, {
    sub: values.sub,
    tenant: values.tenant,
    admin: values.admin,
    ttlSeconds: ttl,
    issuer: process.env.JWT_ISSUER ?? defaultIssuer,
    audience: process.env.JWT_AUDIENCE ?? defaultAudience,
  });
  process.stdout.write(`${token}\n`);
} catch (error) {
  console.error(`error: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
}
