import { describe, expect, it } from 'vitest';
import { signSlackRequest, verifySlackSignature, type SignatureFailure } from '../../src/slack/signature.js';

// Slack's official worked example (docs.slack.dev, "Verifying requests from Slack").
const SECRET = '8f742231b10e8888abcd99yyyzzz85a5';
const TS = '1531420618';
const NOW = 1531420618;
const BODY =
  'token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c';
const SIG = 'v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503';

type Overrides = Partial<Parameters<typeof verifySlackSignature>[0]>;
const verify = (overrides: Overrides = {}) =>
  verifySlackSignature({
    signingSecret: SECRET,
    signature: SIG,
    timestamp: TS,
    rawBody: BODY,
    nowSeconds: NOW,
    ...overrides,
  });

function refusal(overrides: Overrides): { reason: SignatureFailure; detail: string } {
  const result = verify(overrides);
  if (result.ok) throw new Error(`expected a refusal for ${JSON.stringify(overrides)}`);
  return result;
}

describe('verifySlackSignature', () => {
  it("accepts Slack's official example, as a string and as raw bytes", () => {
    expect(verify()).toEqual({ ok: true });
    expect(verify({ rawBody: Buffer.from(BODY, 'utf8') })).toEqual({ ok: true });
  });

  it('accepts up to the tolerance and refuses one second beyond it, in both directions', () => {
    expect(verify({ nowSeconds: NOW + 300 })).toEqual({ ok: true });
    expect(verify({ nowSeconds: NOW - 300 })).toEqual({ ok: true });
    expect(refusal({ nowSeconds: NOW + 301 }).reason).toBe('stale_timestamp');
    expect(refusal({ nowSeconds: NOW - 301 }).reason).toBe('future_timestamp');
    expect(refusal({ nowSeconds: NOW + 301 }).detail).toMatch(/301 s older/);
    expect(refusal({ nowSeconds: NOW - 301 }).detail).toMatch(/301 s ahead/);
  });

  it('honours a custom tolerance and fractional clocks', () => {
    expect(refusal({ nowSeconds: NOW + 61, toleranceSeconds: 60 }).reason).toBe('stale_timestamp');
    expect(verify({ nowSeconds: NOW + 60, toleranceSeconds: 60 })).toEqual({ ok: true });
    expect(verify({ nowSeconds: NOW + 299.9 })).toEqual({ ok: true });
    expect(refusal({ nowSeconds: NOW + 300.5 }).reason).toBe('stale_timestamp');
  });

  it('refuses a tampered body or signature', () => {
    expect(refusal({ rawBody: BODY.replace('text=', 'text=7') }).reason).toBe('signature_mismatch');
    expect(refusal({ rawBody: `${BODY}\n` }).reason).toBe('signature_mismatch');
    expect(refusal({ rawBody: Buffer.from(BODY.replace('roadrunner', 'wile'), 'utf8') }).reason).toBe('signature_mismatch');
    const flipped = SIG.slice(0, -1) + (SIG.endsWith('3') ? '4' : '3');
    expect(refusal({ signature: flipped }).reason).toBe('signature_mismatch');
    expect(refusal({ signingSecret: `${SECRET}x` }).reason).toBe('signature_mismatch');
    // The timestamp is part of what is signed: a fresh timestamp on an old signature does not pass.
    expect(refusal({ timestamp: String(NOW + 10) }).reason).toBe('signature_mismatch');
  });

  it('refuses missing headers', () => {
    expect(refusal({ signature: undefined }).reason).toBe('missing_signature');
    expect(refusal({ signature: '' }).reason).toBe('missing_signature');
    expect(refusal({ signature: [] }).reason).toBe('missing_signature');
    expect(refusal({ timestamp: undefined }).reason).toBe('missing_timestamp');
    expect(refusal({ timestamp: '' }).reason).toBe('missing_timestamp');
    expect(refusal({ signature: undefined, timestamp: undefined }).reason).toBe('missing_signature');
  });

  it('refuses duplicated headers, as arrays or as Node joins them', () => {
    expect(refusal({ signature: [SIG, SIG] }).reason).toBe('duplicate_header');
    expect(refusal({ timestamp: [TS, TS] }).reason).toBe('duplicate_header');
    expect(refusal({ signature: `${SIG}, ${SIG}` }).reason).toBe('duplicate_header');
    expect(refusal({ timestamp: `${TS}, ${TS}` }).reason).toBe('duplicate_header');
    expect(refusal({ timestamp: [TS, TS] }).detail).toMatch(/X-Slack-Request-Timestamp/);
    // A one-element array (as from request.headersDistinct) is a single header.
    expect(verify({ signature: [SIG], timestamp: [TS] })).toEqual({ ok: true });
  });

  it('refuses other signature versions and malformed signatures', () => {
    expect(refusal({ signature: SIG.replace('v0=', 'v1=') }).reason).toBe('unknown_version');
    expect(refusal({ signature: SIG.replace('v0=', 'v10=') }).reason).toBe('unknown_version');
    expect(refusal({ signature: SIG.slice(3) }).reason).toBe('malformed_signature');
    expect(refusal({ signature: SIG.replace('v0=', 'V0=') }).reason).toBe('malformed_signature');
    expect(refusal({ signature: SIG.replace('v0=', 'v0:') }).reason).toBe('malformed_signature');
    expect(refusal({ signature: `${SIG.slice(0, -1)}g` }).reason).toBe('malformed_signature');
    expect(refusal({ signature: SIG.slice(0, -2) }).reason).toBe('malformed_signature');
    expect(refusal({ signature: `${SIG}00` }).reason).toBe('malformed_signature');
    expect(refusal({ signature: 'v0=' }).reason).toBe('malformed_signature');
    expect(refusal({ signature: ` ${SIG}` }).reason).toBe('malformed_signature');
    expect(refusal({ signature: `${SIG} ` }).reason).toBe('malformed_signature');
    expect(refusal({ signature: `${SIG}\n` }).reason).toBe('malformed_signature');
    expect(refusal({ signature: 'v0=' + 'ab'.repeat(32).replace(/b/g, 'x') }).reason).toBe('malformed_signature');
  });

  it('refuses non-numeric, negative, padded and absurd timestamps', () => {
    for (const timestamp of [
      'abc',
      '-1531420618',
      '+1531420618',
      '1531420618.0',
      '1.531420618e9',
      '0x5B47C5CA',
      ` ${TS}`,
      `${TS} `,
      `${TS}\n`,
      `\t${TS}`,
      `0${TS}`,
      '١٥٣١٤٢٠٦١٨', // Arabic-Indic digits
      'NaN',
      'Infinity',
      '9'.repeat(13),
      '1'.repeat(400),
    ]) {
      expect(refusal({ timestamp }).reason, JSON.stringify(timestamp)).toBe('malformed_timestamp');
    }
    // Well-formed but far away.
    expect(refusal({ timestamp: '0' }).reason).toBe('stale_timestamp');
    expect(refusal({ timestamp: '999999999999' }).reason).toBe('future_timestamp');
  });

  it('checks freshness before the signature, so a skewed clock is named as such', () => {
    const result = refusal({ nowSeconds: NOW + 3600, signature: SIG.replace('v0=', 'v1=') });
    expect(result.reason).toBe('stale_timestamp');
  });

  it('never puts the secret or the expected signature in the detail', () => {
    const cases: Overrides[] = [
      { signature: undefined },
      { timestamp: undefined },
      { signature: [SIG, SIG] },
      { timestamp: SECRET },
      { nowSeconds: NOW + 400 },
      { nowSeconds: NOW - 400 },
      { signature: SIG.replace('v0=', 'v1=') },
      { signature: `v0=${SECRET}` },
      { signature: 'v0=' + '0'.repeat(64) },
      { rawBody: 'tampered' },
    ];
    for (const overrides of cases) {
      const { detail } = refusal(overrides);
      expect(detail).not.toContain(SECRET);
      expect(detail).not.toContain(SIG.slice(3));
      expect(detail.length).toBeGreaterThan(10);
      expect(detail).not.toMatch(/\n/);
    }
  });

  it('refuses to run with an empty secret or nonsense options', () => {
    expect(() => verify({ signingSecret: '' })).toThrow(TypeError);
    expect(() => verify({ toleranceSeconds: -1 })).toThrow(RangeError);
    expect(() => verify({ nowSeconds: Number.NaN })).toThrow(RangeError);
  });
});

describe('signSlackRequest', () => {
  it("reproduces Slack's example signature", () => {
    expect(signSlackRequest(SECRET, TS, BODY)).toBe(SIG);
    expect(signSlackRequest(SECRET, NOW, Buffer.from(BODY))).toBe(SIG);
  });

  it('round-trips through verifySlackSignature, including non-ASCII bodies and secrets', () => {
    const body = 'text=%E2%9C%85&user_id=U1&raw=\u00e9\u{1F600}';
    const secret = 'sécret-ü';
    const now = 1_764_000_000;
    const signature = signSlackRequest(secret, now, body);
    expect(signature).toMatch(/^v0=[0-9a-f]{64}$/);
    expect(
      verifySlackSignature({
        signingSecret: secret,
        signature,
        timestamp: String(now),
        rawBody: Buffer.from(body),
        nowSeconds: now,
      }),
    ).toEqual({ ok: true });
    // Bytes, not characters: the same text in another encoding is a different body.
    expect(
      verifySlackSignature({
        signingSecret: secret,
        signature,
        timestamp: String(now),
        rawBody: Buffer.from(body, 'latin1'),
        nowSeconds: now,
      }).ok,
    ).toBe(false);
  });

  it('accepts upper-case hex, since it encodes the same digest', () => {
    expect(verify({ signature: `v0=${SIG.slice(3).toUpperCase()}` })).toEqual({ ok: true });
  });
});
