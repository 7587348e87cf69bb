// Connecting a WHOOP account from an authorization code: exchanged for a grant, the member identified, the
// grant stored. The one way an account gets connected, whether WHOOP's redirect reached the service
// (GET /oauth/whoop/callback) or a person pasted the address their browser ended on (`npm run connect`).
import type { FastifyInstance } from 'fastify';

/** Where WHOOP sends the person back, as registered in the WHOOP developer app. */
export function callbackUrl(publicUrl: string): string {
  return `${publicUrl}/oauth/whoop/callback`;
}

export const NOT_REFRESHABLE = 'WHOOP issued no refresh token (the offline scope was not granted), so access will stop after about an hour.';

export interface ConnectedAccount {
  userId: number;
  /** The member's name, or "WHOOP member" when WHOOP gave none. */
  name: string;
  /** False when the offline scope was not granted: access then stops after about an hour. */
  refreshable: boolean;
}

/** Throws WhoopOAuthError when WHOOP refuses the code, WhoopApiError/WhoopResponseError when it cannot be reached. */
export async function connectAccount(app: FastifyInstance, code: string): Promise<ConnectedAccount> {
  if (!app.whoop.oauth) throw new Error('WHOOP is not configured: set WHOOP_CLIENT_ID and WHOOP_CLIENT_SECRET');
  const obtainedAt = new Date();
  const tokens = await app.whoop.oauth.exchangeCode(code, callbackUrl(app.config.publicUrl));
  const { profile, body } = await app.whoop.api.identify(tokens.access_token);
  await app.whoop.tokens.saveConnection(profile, body, tokens, obtainedAt);
  app.whoop.guard.forget(BigInt(profile.user_id));
  app.metrics.accountsReauthorizationRequired.set(await app.whoop.tokens.countReauthorizationRequired());
  const name = [profile.first_name, profile.last_name].filter(Boolean).join(' ') || 'WHOOP member';
  return { userId: profile.user_id, name, refreshable: Boolean(tokens.refresh_token) };
}
