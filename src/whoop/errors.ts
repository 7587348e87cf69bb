// Errors of the WHOOP integration. Their messages end up in Slack ("❌ …") and in sync_runs.error, so
// they are written for the person who reads them: what happened and what to do.

/** The WHOOP API answered with an error status, or could not be reached, after the retries allowed. */
export class WhoopApiError extends Error {
  constructor(
    message: string,
    readonly status: number | undefined,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = 'WhoopApiError';
  }
}

/** WHOOP answered 200 with a body that is not what its API documents. */
export class WhoopResponseError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WhoopResponseError';
  }
}

/** The OAuth token endpoint refused a request (e.g. `invalid_grant`, `invalid_client`). */
export class WhoopOAuthError extends Error {
  constructor(
    message: string,
    readonly code: string,
    readonly status: number,
  ) {
    super(message);
    this.name = 'WhoopOAuthError';
  }
}

/** The stored grant is dead: only the person can fix this, by connecting the account again. */
export class ReauthorizationRequiredError extends Error {
  constructor(
    readonly userId: bigint,
    connectUrl: string,
    reason?: string,
  ) {
    super(
      `WHOOP authorization for account ${userId} has expired or was revoked${reason ? ` (${reason})` : ''}. ` +
        `Reconnect it with /whoop connect in Slack, or from the dashboard at ${connectUrl}`,
    );
    this.name = 'ReauthorizationRequiredError';
  }
}
