/**
 * The signed-in session: the bearer token (kept in sessionStorage, so it dies with the tab)
 * and the claims the dashboard shows. The tenant shown is the token's: the API reads the
 * same claim and serves that tenant's analytics only.
 */
const storageKey = 'event-flows.token';

export interface Claims {
  sub: string;
  /** Who to show: Cognito access tokens name the user (`username`); otherwise the subject. */
  name: string;
  tenant: string | undefined;
  scopes: string[];
  /** Epoch seconds. */
  exp: number;
}

export interface Session {
  token: string;
  claims: Claims;
}

function base64UrlDecode(part: string): string {
  const base64 = part.replace(/-/g, '+').replace(/_/g, '/').padEnd(Math.ceil(part.length / 4) * 4, '=');
  const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
  return new TextDecoder().decode(bytes);
}

/** Reads a JWT's claims without verifying it: the API verifies; the page only displays them. */
export function decodeClaims(token: string): Claims {
  const payload = token.split('.')[1];
  if (!payload) throw new Error('the token is not a JWT');
  const claims = JSON.parse(base64UrlDecode(payload)) as Record<string, unknown>;
  const scope = typeof claims.scope === 'string' ? claims.scope : typeof claims.scp === 'string' ? claims.scp : '';
  const sub = typeof claims.sub === 'string' ? claims.sub : '?';
  return {
    sub,
    name: typeof claims.username === 'string' ? claims.username : sub,
    tenant: typeof claims.tenant === 'string' ? claims.tenant : undefined,
    scopes: scope.split(' ').filter(Boolean),
    exp: typeof claims.exp === 'number' ? claims.exp : 0,
  };
}

/** The stored session, unless it is missing or expires within a minute. */
export function storedSession(now: number = Date.now()): Session | undefined {
  const token = sessionStorage.getItem(storageKey);
  if (!token) return undefined;
  try {
    const claims = decodeClaims(token);
    if (claims.exp * 1000 > now + 60_000) return { token, claims };
  } catch {
    // An unreadable token is as good as none.
  }
  sessionStorage.removeItem(storageKey);
  return undefined;
}

export function storeSession(token: string): Session {
  const session = { token, claims: decodeClaims(token) };
  sessionStorage.setItem(storageKey, token);
  return session;
}

export function clearSession(): void {
  sessionStorage.removeItem(storageKey);
}
