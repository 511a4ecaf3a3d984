/**
 * Prints an access token for the local API: a sign-in to the local user pool of the running
 * `npm start` (its `POST /local/token`, scripts/local/cognito.ts). The user is signed up on
 * first use, put into the tenant (our membership record) and into or out of the group
 * `admin`; the pool's pre-token-generation trigger then writes the tenant and the admin scope
 * into the token, as in the deployed system.
 *
 *   npm run -s token -- --sub alice --tenant acme [--admin] [--api http://127.0.0.1:3000] [--id-token]
 *
 * `--sub` names the user in the pool; the token's `sub` is the pool's id for that user (printed
 * on stderr), which the API uses as the user id.
 */
import { parseArgs } from 'node:util';

try {
  const { values } = parseArgs({
    options: {
      sub: { type: 'string', default: 'alice' },
      tenant: { type: 'string', default: 'acme' },
      admin: { type: 'boolean', default: false },
      api: { type: 'string', default: `http://127.0.0.1:${process.env.PORT ?? 3000}` },
      'id-token': { type: 'boolean', default: false },
    },
    strict: true,
  });
  const url = `${values.api.replace(/\/$/, '')}/local/token`;
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ user: values.sub, tenant: values.tenant, admin: values.admin }),
  }).catch((error: unknown) => {
    throw new Error(`nothing answers at ${url} (${String(error)}): start the local stack first (npm start), or pass --api`);
  });
  const body = (await response.json().catch(() => undefined)) as { accessToken?: string; idToken?: string; sub?: string; error?: { message?: string } } | undefined;
  if (!response.ok || !body?.accessToken) throw new Error(`${url} answered ${response.status}: ${body?.error?.message ?? JSON.stringify(body)}`);
  const token = values['id-token'] ? body.idToken : body.accessToken;
  if (!token) throw new Error('this stack signs no ID tokens (self-signed mode): leave out --id-token');
  console.error(`user ${values.sub}: sub ${body.sub}, tenant ${values.tenant}${values.admin ? ', admin' : ''}`);
  process.stdout.write(`${token}\n`);
} catch (error) {
  console.error(`error: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
}
