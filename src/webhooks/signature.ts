// Verification of WHOOP webhook signatures: X-WHOOP-Signature = base64(HMAC-SHA256(key = the app's client
// secret, message = X-WHOOP-Signature-Timestamp + raw body)), the timestamp in milliseconds since the epoch.
// Pure, like the Slack check: the caller passes the time in and decides what to log.
import { createHmac, timingSafeEqual } from 'node:crypto';

/** How far the timestamp may be from the server clock, either way. */
const WHOOP_SIGNATURE_TOLERANCE_MS = 5 * 60_000;

type WhoopSignatureFailure =
  | 'missing_signature'
  | 'missing_timestamp'
  | 'duplicate_header'
  | 'malformed_timestamp'
  | 'stale_timestamp'
  | 'future_timestamp'
  | 'malformed_signature'
  | 'signature_mismatch';

export type WhoopSignatureResult = { ok: true } | { ok: false; reason: WhoopSignatureFailure; detail: string };

export interface VerifyWhoopSignatureInput {
  clientSecret: string;
  signature: string | string[] | undefined;
  timestamp: string | string[] | undefined;
  rawBody: Buffer;
  nowMs: number;
}

// Milliseconds in canonical decimal form; 15 digits reach the year 33658.
const TIMESTAMP = /^(0|[1-9]\d{0,14})$/;
// A SHA-256 digest is 32 bytes: 43 base64 characters and one padding character.
const BASE64_DIGEST = /^[A-Za-z0-9+/]{43}=$/;

const fail = (reason: WhoopSignatureFailure, detail: string): WhoopSignatureResult => ({ ok: false, reason, detail });

/** A header sent once: Node joins repeated headers with ", ", and neither value can hold a comma. */
function single(value: string | string[] | undefined): string | 'missing' | 'duplicate' {
  if (Array.isArray(value)) {
    if (value.length > 1) return 'duplicate';
    value = value[0];
  }
  if (value === undefined || value === '') return 'missing';
  return value.includes(',') ? 'duplicate' : value;
}

function signWhoopWebhook(clientSecret: string, timestamp: string, rawBody: Buffer): string {
  return createHmac('sha256', clientSecret).update(timestamp, 'utf8').update(rawBody).digest('base64');
}

export function verifyWhoopSignature(input: VerifyWhoopSignatureInput): WhoopSignatureResult {
  if (!input.clientSecret) throw new TypeError('verifyWhoopSignature: clientSecret must be a non-empty string');
  const signature = single(input.signature);
  const timestamp = single(input.timestamp);
  if (signature === 'missing') return fail('missing_signature', 'The X-WHOOP-Signature header is missing or empty.');
  if (timestamp === 'missing') return fail('missing_timestamp', 'The X-WHOOP-Signature-Timestamp header is missing or empty.');
  if (signature === 'duplicate' || timestamp === 'duplicate') return fail('duplicate_header', 'A WHOOP signature header was sent more than once.');
  if (!TIMESTAMP.test(timestamp)) {
    return fail('malformed_timestamp', 'The X-WHOOP-Signature-Timestamp header is not a plain Unix time in milliseconds.');
  }
  const skew = input.nowMs - Number(timestamp);
  if (skew > WHOOP_SIGNATURE_TOLERANCE_MS) return fail('stale_timestamp', `The delivery timestamp is ${Math.round(skew / 1000)} s older than the server clock.`);
  if (-skew > WHOOP_SIGNATURE_TOLERANCE_MS) return fail('future_timestamp', `The delivery timestamp is ${Math.round(-skew / 1000)} s ahead of the server clock.`);
  if (!BASE64_DIGEST.test(signature)) return fail('malformed_signature', 'The X-WHOOP-Signature header is not a base64 HMAC-SHA256 digest.');
  const received = Buffer.from(signature, 'base64');
  const expected = Buffer.from(signWhoopWebhook(input.clientSecret, timestamp, input.rawBody), 'base64');
  if (received.length !== expected.length || !timingSafeEqual(received, expected)) {
    return fail('signature_mismatch', 'The X-WHOOP-Signature does not match the body: wrong client secret, or the body was altered.');
  }
  return { ok: true };
}
