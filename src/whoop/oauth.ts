// WHOOP's OAuth 2.0 endpoints: the authorize URL a person visits, and the token endpoint used for the
// code exchange and for refreshes.
import { WhoopOAuthError } from './errors.js';
import type { WhoopHttp } from './http.js';
import { parseResponse, tokenResponseSchema, type TokenResponse } from './schemas.js';

/** Every read scope, plus `offline` — without it WHOOP issues no refresh token and access dies after an hour. */
const WHOOP_SCOPES = 'offline read:recovery read:cycles read:workout read:sleep read:profile read:body_measurement';

export interface OAuthClientCredentials {
  clientId: string;
  clientSecret: string;
}

export function authorizeUrl(apiUrl: string, clientId: string, redirectUri: string, state: string): string {
  const url = new URL(`${apiUrl}/oauth/oauth2/auth`);
  url.searchParams.set('client_id', clientId);
  url.searchParams.set('redirect_uri', redirectUri);
  url.searchParams.set('response_type', 'code');
  url.searchParams.set('scope', WHOOP_SCOPES);
  url.searchParams.set('state', state);
  return url.toString();
}

export class WhoopOAuth {
  constructor(
    private readonly http: WhoopHttp,
    private readonly credentials: OAuthClientCredentials,
  ) {}

  exchangeCode(code: string, redirectUri: string): Promise<TokenResponse> {
    return this.token({ grant_type: 'authorization_code', code, redirect_uri: redirectUri });
  }

  /** Spends `refreshToken` (WHOOP's refresh tokens are single-use) and returns the new pair. */
  refresh(refreshToken: string): Promise<TokenResponse> {
    return this.token({ grant_type: 'refresh_token', refresh_token: refreshToken, scope: 'offline' });
  }

  // Codes and refresh tokens are single-use, so neither request is repeated once it may have reached WHOOP.
  private async token(params: Record<string, string>): Promise<TokenResponse> {
    const body = new URLSearchParams({
      ...params,
      client_id: this.credentials.clientId,
      client_secret: this.credentials.clientSecret,
    });
    const response = await this.http.request({
      method: 'POST',
      path: '/oauth/oauth2/token',
      endpoint: 'oauth_token',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: body.toString(),
      idempotent: false,
    });
    if (response.status !== 200) {
      const error = response.body as { error?: unknown; error_description?: unknown } | undefined;
      const code = typeof error?.error === 'string' ? error.error : `http_${response.status}`;
      const description = typeof error?.error_description === 'string' ? `: ${error.error_description.slice(0, 200)}` : '';
      throw new WhoopOAuthError(`WHOOP token endpoint refused the request (${code}${description})`, code, response.status);
    }
    return parseResponse(tokenResponseSchema, response.body, 'token response');
  }
}
