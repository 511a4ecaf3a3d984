/**
 * Sign-in for `npm start`: the local dashboard server mints a token signed with the local
 * key, exactly as `npm run token` does (scripts/local/dashboard.ts). Only the local server
 * has this endpoint; a deployed config.json names Cognito instead (./cognito.ts).
 */
export interface LocalIdentity {
  sub: string;
  tenant: string;
  admin: boolean;
}

export async function localToken(tokenEndpoint: string, identity: LocalIdentity): Promise<string> {
  const response = await fetch(tokenEndpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(identity),
  });
  const body = (await response.json().catch(() => undefined)) as { access_token?: string; error?: { message?: string } } | undefined;
  if (!response.ok || typeof body?.access_token !== 'string') {
    throw new Error(`local sign-in failed: ${response.status} ${body?.error?.message ?? ''}`.trim());
  }
  return body.access_token;
}
