/**
 * Sign-in for `npm start`: the local API's `POST /local/token` (scripts/local/cognito.ts) signs
 * a user in to the local user pool, or mints a self-signed token where the emulator runs no
 * pool, as `npm run token` does. Only the local API has this endpoint; a deployed
 * config.json names Cognito instead (./cognito.ts).
 */
export interface LocalIdentity {
  user: string;
  tenant: string;
  admin: boolean;
}

export async function localToken(tokenEndpoint: string, identity: LocalIdentity): Promise<string> {
  const response = await fetch(tokenEndpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(identity),
  });
  const body = (await response.json().catch(() => undefined)) as { accessToken?: string; error?: { message?: string } } | undefined;
  if (!response.ok || typeof body?.accessToken !== 'string') {
    throw new Error(`local sign-in failed: ${response.status} ${body?.error?.message ?? ''}`.trim());
  }
  return body.accessToken;
}
