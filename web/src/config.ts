/**
 * The dashboard's settings, read at start from `config.json` next to index.html: the local
 * server (scripts/local/dashboard.ts) serves one for `npm start`, Terraform writes the
 * deployed one (terraform/modules/static-site). One bundle serves every environment.
 */
export type AuthConfig =
  /** `npm start`: the local server mints a token the local API accepts (no password). */
  | { kind: 'local'; tokenEndpoint: string }
  /** Deployed: the Cognito hosted UI, authorization code with PKCE, no client secret. */
  | { kind: 'cognito'; domain: string; clientId: string; scopes: string[] };

export interface DashboardConfig {
  apiUrl: string;
  auth: AuthConfig;
  /** Seconds between automatic refreshes. */
  refreshSeconds: number;
}

function fail(issue: string): never {
  throw new Error(`config.json: ${issue}`);
}

export function parseConfig(value: unknown): DashboardConfig {
  if (typeof value !== 'object' || value === null) fail('not an object');
  const raw = value as Record<string, unknown>;
  if (typeof raw.apiUrl !== 'string' || !/^https?:\/\//.test(raw.apiUrl)) fail('apiUrl must be an http(s) URL');
  const auth = raw.auth as Record<string, unknown> | undefined;
  let parsed: AuthConfig;
  if (auth?.kind === 'local' && typeof auth.tokenEndpoint === 'string') {
    parsed = { kind: 'local', tokenEndpoint: auth.tokenEndpoint };
  } else if (auth?.kind === 'cognito' && typeof auth.domain === 'string' && typeof auth.clientId === 'string') {
    const scopes = Array.isArray(auth.scopes) ? auth.scopes.filter((s): s is string => typeof s === 'string') : ['openid'];
    parsed = { kind: 'cognito', domain: auth.domain.replace(/\/+$/, ''), clientId: auth.clientId, scopes };
  } else {
    fail('auth must be {"kind":"local","tokenEndpoint"} or {"kind":"cognito","domain","clientId"}');
  }
  const refreshSeconds = typeof raw.refreshSeconds === 'number' && raw.refreshSeconds >= 5 ? raw.refreshSeconds : 30;
  return { apiUrl: raw.apiUrl.replace(/\/+$/, ''), auth: parsed, refreshSeconds };
}

export async function loadConfig(): Promise<DashboardConfig> {
  const response = await fetch('config.json', { cache: 'no-store' });
  if (!response.ok) fail(`${response.status} ${response.statusText}`);
  return parseConfig(await response.json());
}
