// Verification of Slack request signatures (X-Slack-Signature / X-Slack-Request-Timestamp).
// Pure: no clock, no environment, no logging — the caller passes the time in and decides what to log, so every
// refusal says exactly which check failed (skewed clocks and lost raw bodies are the usual culprits).
import { createHmac, timingSafeEqual } from 'node:crypto';

/** Slack's documented replay window, in seconds. */
export const SLACK_SIGNATURE_TOLERANCE_SECONDS = 300;

export type SignatureFailure =
  | 'missing_signature'
  | 'missing_timestamp'
  | 'duplicate_header'
  | 'malformed_timestamp'
  | 'stale_timestamp'
  | 'future_timestamp'
  | 'unknown_version'
  | 'malformed_signature'
  | 'signature_mismatch';

export interface VerifySlackSignatureInput {
  signingSecret: string;
  /** The X-Slack-Signature header as the HTTP server delivered it. */
  signature: string | string[] | undefined;
  /** The X-Slack-Request-Timestamp header as the HTTP server delivered it. */
  timestamp: string | string[] | undefined;
  /** The body exactly as received, before any parsing. */
  rawBody: Buffer | string;
  /** Current Unix time in seconds (fractions allowed). */
  nowSeconds: number;
  /** Maximum allowed |now - timestamp|, default 300 s. */
  toleranceSeconds?: number;
}

export type SignatureResult =
  | { ok: true }
  | {
      ok: false;
      reason: SignatureFailure;
      /** One sentence for logs. Never contains the secret, the expected signature or raw header text. */
      detail: string;
    };

// Unix seconds in canonical decimal form: no sign, no leading zeros, no whitespace. 12 digits reach the year
// 33658; anything longer is garbage, and refusing it early keeps Number() exact.
const TIMESTAMP = /^(0|[1-9]\d{0,11})$/;
// HMAC-SHA256 is 32 bytes: exactly 64 hex digits after the version prefix.
const VERSIONED = /^v(\d{1,3})=(.*)$/s;
const HEX_DIGEST = /^[0-9a-fA-F]{64}$/;

function fail(reason: SignatureFailure, detail: string): SignatureResult {
  return { ok: false, reason, detail };
}

/**
 * Normalises a header value. Node joins repeated custom headers with ", " (and `headersDistinct` yields
 * arrays), so both a multi-element array and a comma in a value that can never contain one mean the header
 * was sent more than once.
 */
function single(value: string | string[] | undefined): { value: string } | 'missing' | 'duplicate' {
  if (value === undefined) return 'missing';
  if (Array.isArray(value)) {
    if (value.length === 0) return 'missing';
    if (value.length > 1) return 'duplicate';
    value = value[0]!;
  }
  if (value === '') return 'missing';
  if (value.includes(',')) return 'duplicate';
  return { value };
}

/** The `v0=` signature Slack would send for this timestamp and body. */
export function signSlackRequest(signingSecret: string, timestamp: number | string, rawBody: Buffer | string): string {
  return `v0=${digest(signingSecret, String(timestamp), rawBody).toString('hex')}`;
}

function digest(signingSecret: string, timestamp: string, rawBody: Buffer | string): Buffer {
  // Fed in two parts so a Buffer body is hashed byte for byte, never round-tripped through a string.
  return createHmac('sha256', Buffer.from(signingSecret, 'utf8'))
    .update(`v0:${timestamp}:`, 'utf8')
    .update(typeof rawBody === 'string' ? Buffer.from(rawBody, 'utf8') : rawBody)
    .digest();
}

/**
 * Checks a Slack request signature. Order of checks: header presence, duplicates, timestamp format,
 * freshness (both directions), signature format, then the HMAC in constant time.
 * Throws only on programmer errors (empty secret, invalid tolerance or clock value).
 */
export function verifySlackSignature(input: VerifySlackSignatureInput): SignatureResult {
  const { signingSecret, rawBody, nowSeconds } = input;
  const tolerance = input.toleranceSeconds ?? SLACK_SIGNATURE_TOLERANCE_SECONDS;
  // An empty secret would let anyone who guesses it through: refuse to run rather than verify against it.
  if (typeof signingSecret !== 'string' || signingSecret.length === 0) {
    throw new TypeError('verifySlackSignature: signingSecret must be a non-empty string');
  }
  if (!Number.isFinite(tolerance) || tolerance < 0) {
    throw new RangeError('verifySlackSignature: toleranceSeconds must be a finite number >= 0');
  }
  if (!Number.isFinite(nowSeconds)) {
    throw new RangeError('verifySlackSignature: nowSeconds must be a finite number');
  }

  const signature = single(input.signature);
  const timestamp = single(input.timestamp);
  if (signature === 'missing') return fail('missing_signature', 'The X-Slack-Signature header is missing or empty.');
  if (timestamp === 'missing') {
    return fail('missing_timestamp', 'The X-Slack-Request-Timestamp header is missing or empty.');
  }
  if (signature === 'duplicate' || timestamp === 'duplicate') {
    const which = signature === 'duplicate' ? 'X-Slack-Signature' : 'X-Slack-Request-Timestamp';
    return fail('duplicate_header', `The ${which} header was sent more than once.`);
  }

  if (!TIMESTAMP.test(timestamp.value)) {
    return fail(
      'malformed_timestamp',
      `The X-Slack-Request-Timestamp header is not a plain Unix time in seconds (${timestamp.value.length} characters).`,
    );
  }
  const ts = Number(timestamp.value);
  const skew = nowSeconds - ts;
  if (skew > tolerance) {
    return fail(
      'stale_timestamp',
      `The request timestamp ${ts} is ${Math.round(skew)} s older than the server clock (tolerance ${tolerance} s): a replay, or a server clock that is ahead.`,
    );
  }
  if (-skew > tolerance) {
    return fail(
      'future_timestamp',
      `The request timestamp ${ts} is ${Math.round(-skew)} s ahead of the server clock (tolerance ${tolerance} s): the server clock is probably behind.`,
    );
  }

  const versioned = VERSIONED.exec(signature.value);
  if (!versioned) {
    return fail('malformed_signature', 'The X-Slack-Signature header does not start with a version prefix such as "v0=".');
  }
  if (versioned[1] !== '0') {
    return fail('unknown_version', `The X-Slack-Signature header uses version "v${versioned[1]}"; only "v0" is supported.`);
  }
  const hex = versioned[2]!;
  if (!HEX_DIGEST.test(hex)) {
    return fail(
      'malformed_signature',
      `The X-Slack-Signature header is not "v0=" followed by 64 hex digits (got ${hex.length} characters after the prefix).`,
    );
  }

  const received = Buffer.from(hex, 'hex');
  const expected = digest(signingSecret, timestamp.value, rawBody);
  // timingSafeEqual throws on unequal lengths; the format check above makes this unreachable, but keep it.
  if (received.length !== expected.length || !timingSafeEqual(received, expected)) {
    return fail(
      'signature_mismatch',
      'The X-Slack-Signature does not match the body: wrong signing secret, or the raw body was altered or re-serialized before verification.',
    );
  }
  return { ok: true };
}
