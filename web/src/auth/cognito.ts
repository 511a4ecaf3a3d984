/**
 * Deployed sign-in: the Cognito user pool's hosted UI, OAuth 2.0 authorization code with
 * PKCE (RFC 7636, S256). The app client has no secret (a browser cannot keep one); the
 * verifier stays in this tab's sessionStorage and only its SHA-256 goes to the authorize
 * endpoint. The access token (it carries `tenant` and the `admin` scope, docs/AUTH.md) is
 * what the API's JWT authorizer checks.
 */
import type { AuthConfig } from '../config.ts';

type CognitoConfig = Extract<AuthConfig, { kind: 'cognito' }>;

const verifierKey = 'event-flows.pkce-verifier';
const stateKey = 'event-flows.pkce-state';

function base64Url(bytes: Uint8Array): string {
  return btoa(String.fromCharCode(...bytes)).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

function randomString(bytes: number): string {
  return base64Url(crypto.getRandomValues(new Uint8Array(bytes)));
}

export async function codeChallenge(verifier: string): Promise<string> {
  return base64Url(new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier))));
}

/** Where Cognito sends the browser back: this page, without query or fragment (the app client's callback URL). */
export function redirectUri(location: Location = window.location): string {
  return `${location.origin}${location.pathname}`;
}

/** Sends the browser to the hosted UI. */
export async function beginCognitoSignIn(config: CognitoConfig): Promise<never> {
  const verifier = randomString(48);
  const state = randomString(16);
  sessionStorage.setItem(verifierKey, verifier);
  sessionStorage.setItem(stateKey, state);
  const query = new URLSearchParams({
    response_type: 'code',
    client_id: config.clientId,
    redirect_uri: redirectUri(),
    scope: config.scopes.join(' '),
    state,
    code_challenge: await codeChallenge(verifier),
    code_challenge_method: 'S256',
  });
  window.location.assign(`${config.domain}/oauth2/authorize?${query}`);
  return new Promise<never>(() => undefined);
}

/**
 * On the way back from the hosted UI (`?code=...&state=...`): exchanges the code for tokens
 * and returns the access token; undefined when this page load is no such return.
 */
export async function completeCognitoSignIn(config: CognitoConfig): Promise<string | undefined> {
  const params = new URLSearchParams(window.location.search);
  const code = params.get('code');
  const error = params.get('error');
  if (!code && !error) return undefined;
  const verifier = sessionStorage.getItem(verifierKey);
  const expectedState = sessionStorage.getItem(stateKey);
  sessionStorage.removeItem(verifierKey);
  sessionStorage.removeItem(stateKey);
  // The code must not be offered twice (reload, bookmark).
  window.history.replaceState(null, '', redirectUri());
  if (error) throw new Error(`sign-in refused: ${error} ${params.get('error_description') ?? ''}`.trim());
  if (!verifier || params.get('state') !== expectedState) throw new Error('sign-in answer does not match the request that started it (state); sign in again');
  const response = await fetch(`${config.domain}/oauth2/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'authorization_code', client_id: config.clientId, code: code ?? '', redirect_uri: redirectUri(), code_verifier: verifier }),
  });
  const body = (await response.json().catch(() => undefined)) as { access_token?: string; error?: string } | undefined;
  if (!response.ok || typeof body?.access_token !== 'string') throw new Error(`token exchange failed: ${response.status} ${body?.error ?? ''}`.trim());
  return body.access_token;
}

/** The hosted UI's logout, which returns to this page (the app client's logout URL). */
export function cognitoLogoutUrl(config: CognitoConfig): string {
  return `${config.domain}/logout?${new URLSearchParams({ client_id: config.clientId, logout_uri: redirectUri() })}`;
}
