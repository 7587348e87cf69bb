// A bounded, deterministic fuzz run against the public routes (POST /slack/commands, GET /oauth/whoop/callback,
// POST /mcp, GET /export/<table>.<format>) of the real service, over real HTTP.
//
// /mcp and /export run with MCP_TOKEN (and a dashboard password, so forged session cookies meet a real
// session check). Without the token every request is refused, and no answer to one may carry health data:
// the member's name, ids and values, and the exports' column names, as a legitimate call returned them. With
// the token, hostile JSON-RPC (versions, ids, nesting, unknown methods, batches, every tool called with one
// hostile argument among valid ones) and hostile export paths and queries get a 2xx or a 4xx, and no tool
// may fail inside the service (its database query throwing on what the input let through).
//
// The service runs as a child process (the real entry point, src/server.ts, as `npm start` runs it), for
// three reasons: a crash or an unhandled rejection shows up as an exit instead of taking the test runner
// down; the memory of the service can be sampled on its own from /proc/<pid>/status (VmRSS), without the
// test's own allocations (generated cases, response bodies, the fakes) mixed in; and the logs are the
// production JSON logs, which are checked for 5xx ("request failed") entries afterwards.
//
// Memory: the test process has no `global.gc`, and its own heap would mix the fuzzer's allocations with the
// service's anyway. So the service process gets a test-only preload (NODE_OPTIONS: --expose-gc and a
// SIGWINCH handler that runs gc(); nothing in src/ changes), and its memory is sampled after a full
// collection: the memory it retains (V8's heap plus buffers outside it) from its own /metrics, RSS from
// /proc/<pid>/status. Samples are taken after a warm-up (JIT, pools, lazily allocated buffers) and after
// each of two bulk rounds. Anything kept per request (a body, a socket, a replay-guard or rate-limit entry
// that is never evicted) grows with the thousands of requests; after a full GC a healthy service stays
// within a megabyte or two. Bound: retained memory after GC < 10 MB growth. RSS is printed, and bounded
// (< 50 MB growth) only where the GC hook is unavailable: the allocator keeps freed pages, so RSS follows
// the most requests in flight at once, which on a loaded CI machine varies by tens of MB between runs.
//
// Rate limits: the public routes answer 429 to one address past a few dozen unverified requests a minute.
// 429 is always an acceptable answer here, but so that the handlers (not just the limiter) see the fuzz, most
// cases come from a pool of loopback source addresses; one in ten comes from 127.0.0.1 and trips the limiter.
//
// Deterministic: every case comes from a seeded PRNG (FUZZ_SEED overrides the seed; it is printed in the
// summary line). Only the signing timestamps follow the real clock, because the service checks them.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/db/database.js';
import { signSlackRequest } from '../../src/slack/signature.js';
import { startFakeSlack, type FakeSlack } from '../fakes/slack-server.js';
import { startFakeWhoop, type FakeWhoop, type Member } from '../fakes/whoop-server.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { fakesEnv, SIGNING_SECRET, signedHeaders, slashCommandBody, startEnvironment, startPersonalConnect, type Environment } from '../support/environment.js';
import { startServerProcess, type ServerProcess } from '../support/server-process.js';
import { settled } from '../support/settled.js';

const SEED = Number(process.env.FUZZ_SEED ?? 0x5eed_f022);
const SLACK = '/slack/commands';
const CALLBACK = '/oauth/whoop/callback';
const FORM = 'application/x-www-form-urlencoded';
const MCP = '/mcp';
const MCP_TOKEN = 'fuzz-mcp-token-0123456789abcdef0123456789';
const DASHBOARD_PASSWORD = 'fuzz-dashboard-password';
const MCP_ACCEPT = 'application/json, text/event-stream';
const WARMUP_CASES = 900;
const BULK_ROUNDS = 2;
const CASES_PER_ROUND = 2100;
const HTTP_CONCURRENCY = 16;
const RAW_CONCURRENCY = 8;
const MAX_RSS_GROWTH_BYTES = 50 * 1024 * 1024;
const MAX_RETAINED_GROWTH_BYTES = 10 * 1024 * 1024;

// ---------------------------------------------------------------------------------------------------------
// Deterministic randomness
// ---------------------------------------------------------------------------------------------------------

const TOKEN_CHARS = [...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'];
const HEX_CHARS = [...'0123456789abcdef'];

/**
 * The draws a case generator makes, from fast-check's seeded random source. The generators pick their
 * boundary sizes and values from their own lists, so every draw is uniform (no shrinking either: a failing
 * case is found again by its seed, printed in the summary line).
 */
class Draws {
  constructor(private readonly random: fc.Random) {}
  int(min: number, max: number): number {
    return this.random.nextInt(min, max);
  }
  pick<T>(items: readonly T[]): T {
    return items[this.random.nextInt(0, items.length - 1)]!;
  }
  chance(p: number): boolean {
    return this.random.nextInt(0, 999_999) < p * 1_000_000;
  }
  bytes(length: number): Buffer {
    return Buffer.from(Array.from({ length }, () => this.random.nextInt(0, 255)));
  }
  token(length: number): string {
    return Array.from({ length }, () => this.pick(TOKEN_CHARS)).join('');
  }
  hex(length: number): string {
    return Array.from({ length }, () => this.pick(HEX_CHARS)).join('');
  }
}

/** An arbitrary whose value is a `Draws` over the random source fast-check hands it. */
class DrawsArbitrary extends fc.Arbitrary<Draws> {
  generate(random: fc.Random): fc.Value<Draws> {
    return new fc.Value(new Draws(random), undefined);
  }
  canShrinkWithoutContext(_value: unknown): _value is Draws {
    return false;
  }
  shrink(): fc.Stream<fc.Value<Draws>> {
    return fc.Stream.nil();
  }
}
const draws = new DrawsArbitrary();

/** `count` values of what `make` builds from its draws, the same for the same seed. */
function drawn<T>(seed: number, count: number, make: (rng: Draws) => T): T[] {
  return fc.sample(draws.map(make), { seed, numRuns: count });
}

// ---------------------------------------------------------------------------------------------------------
// Cases
// ---------------------------------------------------------------------------------------------------------

/**
 * What a case is allowed to get back. Every case must get an answer below 500; 429 (rate limiting) is
 * always acceptable. Beyond that:
 * - reject: a 4xx;
 * - ok: a 200 (ssl_check and the like);
 * - ok-or-reject: a 200 or a 4xx (correctly signed commands that are not /sync, whose encoding the
 *   service may or may not accept, and aliases of a route that a router may or may not normalise);
 * - answer: a 2xx or a 4xx (requests with MCP_TOKEN: a JSON-RPC error is a 200, a batch of notifications a 202).
 */
type Expect = 'reject' | 'ok' | 'ok-or-reject' | 'answer';

interface BaseCase {
  family: string;
  expect: Expect;
  /** The connection may be closed without an answer (oversized or broken framing). */
  mayClose?: boolean;
  /** Correctly signed, fresh requests: at most one of the sends of one signature may be accepted. */
  signatureKey?: string;
  /** Sent twice, back to back (concurrently, from different addresses). */
  twice?: boolean;
  /** Carries MCP_TOKEN: the only cases whose answers may hold health data. */
  authorized?: boolean;
}
interface HttpCase extends BaseCase {
  kind: 'http';
  method: string;
  path: string;
  headers: Record<string, string | string[]>;
  body?: Buffer;
}
interface RawCase extends BaseCase {
  kind: 'raw';
  bytes: Buffer;
}
type Case = HttpCase | RawCase;

interface Outcome {
  status: number; // 0: no answer (closed or reset)
  statuses: number[]; // raw cases: every answer on the connection (pipelining)
  error?: string;
  snippet: string;
  /** The first 64 KiB of the answer, searched for health data. */
  body: string;
}

/** A signed request that was accepted during the legitimate phase; replayed during the fuzz run. */
interface Recorded {
  body: string;
  headers: Record<string, string>;
}

interface Context extends Setting {
  rng: Draws;
}

/** What every case is generated against. */
interface Setting {
  port: number;
  now: number;
  /** Valid requests from the legitimate phase (already accepted once). */
  replays: Recorded[];
  /** The callback URL of the legitimate connect (its state is spent). */
  spentCallback: string;
  /** The connected member's WHOOP user id. */
  memberId: string;
}

const sign = (body: string | Buffer, timestamp: number | string, secret = SIGNING_SECRET) =>
  signSlackRequest(secret, timestamp, body);

function syncBody(ctx: Context, text = String(ctx.rng.int(1, 30)), fields: Record<string, string> = {}): string {
  return slashCommandBody(text, { trigger_id: `${ctx.rng.int(1e9, 2e9)}.${ctx.rng.token(12)}`, ...fields });
}

/** A correctly formed command body that is not /sync (so it can only ever produce help, never a run). */
function helpBody(ctx: Context): string {
  const command = ctx.rng.pick(['/x', '/weather', '/SYNC', '/sync2', '', 'sync', '/sync ', '/ sync', '/sync\u0000', '/\u017Fync']);
  return syncBody(ctx, ctx.rng.pick(['', '3', 'abc', '%', '\u0000', '\uFFFD', 'é'.repeat(20)]), { command });
}

function assertNotSync(body: string | Buffer, family: string): void {
  // Guard against the generator itself: a correctly signed /sync in the bulk would be a legitimate sync.
  const command = new URLSearchParams(Buffer.from(body).toString('utf8')).get('command');
  if (command === '/sync') throw new Error(`fuzz generator bug: ${family} produced a signed /sync`);
}

function freshSigned(ctx: Context, body: string | Buffer): Record<string, string> {
  return { 'content-type': FORM, 'x-slack-request-timestamp': String(ctx.now), 'x-slack-signature': sign(body, ctx.now) };
}

function signedHelp(
  ctx: Context,
  family: string,
  body: string | Buffer = helpBody(ctx),
  extra: Partial<HttpCase> = {},
): HttpCase {
  assertNotSync(body, family);
  const headers = freshSigned(ctx, body);
  return {
    kind: 'http',
    family,
    method: 'POST',
    path: SLACK,
    headers,
    body: Buffer.from(body),
    expect: 'ok-or-reject',
    signatureKey: headers['x-slack-signature'],
    ...extra,
  };
}

function slackPost(family: string, body: string | Buffer, headers: Record<string, string | string[]>, expectation: Expect = 'reject', path = SLACK): HttpCase {
  return { kind: 'http', family, method: 'POST', path, headers, body: Buffer.from(body), expect: expectation };
}

function junkSignatureHeaders(ctx: Context): Record<string, string> {
  const choice = ctx.rng.int(0, 5);
  const ts = String(ctx.now - ctx.rng.int(0, 200));
  switch (choice) {
    case 0:
      return { 'content-type': FORM };
    case 1:
      return { 'content-type': FORM, 'x-slack-request-timestamp': ts, 'x-slack-signature': `v0=${ctx.rng.hex(64)}` };
    case 2:
      return { 'content-type': FORM, 'x-slack-request-timestamp': ts, 'x-slack-signature': `v1=${ctx.rng.hex(64)}` };
    case 3:
      return { 'content-type': FORM, 'x-slack-request-timestamp': ts, 'x-slack-signature': ctx.rng.token(ctx.rng.int(1, 100)) };
    case 4:
      return { 'content-type': FORM, 'x-slack-signature': `v0=${ctx.rng.hex(64)}` };
    default:
      return { 'content-type': FORM, 'x-slack-request-timestamp': ts };
  }
}

const BAD_ENCODINGS = [
  'command=%2Fsync&text=%',
  'command=/sync&text=%zz',
  'command=/sync&text=%C0%AF',
  'command=/sync&text=%E0%80%AF',
  'command=/sync&text=%ED%A0%80',
  'command=/sync&text=%F4%90%80%80',
  'command=/sync&text=%FF%FE',
  'command=/sync&text=%00',
  'command=%00/sync',
  'command=/sync%',
  '%%%%%%',
  '=&=&=&',
  '&&&&&&&&',
  '%=%&%',
  'command',
  'command=',
  '=/sync',
  'command=/sync&text=%u0041',
  'command=/sync&text=%%32%35',
  '__proto__=x&constructor=y&command=/sync',
  'hasOwnProperty=1&toString=2&command=/sync',
  'ssl_check=0&ssl_check=1',
  'command=/sync&command=/x',
  'command=/x&command=/sync',
  'ssl_check=%31%00',
];

const RAW_BAD_BYTES = [
  Buffer.from([0xff, 0xfe, 0xfd]),
  Buffer.from([0xc0, 0xaf]),
  Buffer.from([0xe0, 0x80, 0xaf]),
  Buffer.from([0xed, 0xa0, 0x80]),
  Buffer.from([0xf8, 0x88, 0x80, 0x80, 0x80]),
  Buffer.from([0x00, 0x00, 0x00]),
  Buffer.from([0xef, 0xbb, 0xbf]), // BOM
  Buffer.from('\r\n\r\nGET / HTTP/1.1\r\n\r\n'),
];

const CONTENT_TYPES_REFUSED = [
  'application/json',
  'multipart/form-data; boundary=----x',
  'text/plain',
  'text/plain; charset=utf-8',
  'application/xml',
  'application/octet-stream',
  'application/x-www-form-urlencodedx',
  'application/x-www-form-urlencoded-evil',
  'x-www-form-urlencoded',
  '*/*',
  'application/*',
];

const CONTENT_TYPES_MAYBE = [
  'application/x-www-form-urlencoded; charset=utf-16',
  'application/x-www-form-urlencoded; charset=utf-16le',
  'application/x-www-form-urlencoded; charset=iso-8859-1',
  'APPLICATION/X-WWW-FORM-URLENCODED',
  'application/x-www-form-urlencoded ; charset=utf-8',
  'application/x-www-form-urlencoded;;;',
  'application/x-www-form-urlencoded; charset="utf-8"; foo=bar',
];

const SLACK_ALIASES = [
  '/slack/commands/',
  '//slack/commands',
  '/slack//commands',
  '/SLACK/COMMANDS',
  '/Slack/Commands',
  '/slack%2Fcommands',
  '/slack%2fcommands',
  '%2Fslack%2Fcommands',
  '/slack/commands%2F',
  '/slack/./commands',
  '/slack/../slack/commands',
  '/x/../slack/commands',
  '/slack/commands/..',
  '/slack/commands/.',
  '/slack/commands;x',
  '/slack/commands%00',
  '/slack/commands%20',
  '/slack/commands.json',
  '/%73lack/commands',
  '/slack/command%73',
  '/slack/commands%3F',
  '/slack/commands%23x',
  '/slack/commands?',
  '/slack/commands?x',
  '/slack/commands?ssl_check=1',
  '/slack/commands??',
  '/slack/commands#frag',
];

const CALLBACK_ALIASES = [
  '/oauth/whoop/callback/',
  '//oauth/whoop/callback',
  '/oauth//whoop/callback',
  '/OAUTH/WHOOP/CALLBACK',
  '/oauth/whoop%2Fcallback',
  '/oauth%2Fwhoop%2Fcallback',
  '/oauth/whoop/../whoop/callback',
  '/oauth/whoop/callback/..',
  '/oauth/whoop/./callback',
  '/oauth/whoop/callback;state=x',
  '/oauth/whoop/callback%3Fstate%3Dx%26code%3Dy',
  '/oauth/%77hoop/callback',
  '/oauth/whoop/callback%00',
  '/oauth/whoop/callbac%6B',
  '/oauth/whoop/callback.php',
];

function percentEncodeBytes(bytes: Buffer): string {
  return [...bytes].map((b) => `%${b.toString(16).padStart(2, '0').toUpperCase()}`).join('');
}

function randomQueryValue(ctx: Context): string {
  const { rng } = ctx;
  switch (rng.int(0, 9)) {
    case 0:
      return rng.token(43); // looks like a real state
    case 1:
      return percentEncodeBytes(rng.bytes(rng.int(1, 64)));
    case 2:
      return rng.pick(['%', '%z', '%zz', '%C0%AF', '%ED%A0%80', '%00', '%FF', '%%', '%2', 'a%', '%u0041', '%E2%80%AE']);
    case 3:
      return 'x'.repeat(rng.pick([511, 512, 513, 1024, 1025, 2048, 2049, 4096]));
    case 4:
      return '';
    case 5:
      return encodeURIComponent('<script>alert(1)</script>');
    case 6:
      return encodeURIComponent(rng.pick(['"', "'", '\\', '../../etc/passwd', '${jndi:ldap://x}', '{{7*7}}', 'null', 'undefined', '[]', '{}']));
    case 7: {
      const codePoint = rng.int(0x80, 0x10ffff);
      const repeat = rng.int(1, 50);
      // A lone surrogate has no UTF-8 form: send its (invalid) CESU-8 bytes instead.
      if (codePoint >= 0xd800 && codePoint <= 0xdfff) return '%ED%A0%80'.repeat(repeat);
      return encodeURIComponent(String.fromCodePoint(codePoint).repeat(repeat));
    }
    case 8:
      return rng.hex(64);
    default:
      return rng.token(rng.int(1, 30));
  }
}

function randomCallbackQuery(ctx: Context): string {
  const { rng } = ctx;
  const names = ['code', 'state', 'error', 'error_description', 'state[]', 'state[a]', '__proto__', 'constructor', 'hasOwnProperty', 'toString', 'scope', ''];
  const count = rng.int(0, 6);
  const parts: string[] = [];
  for (let i = 0; i < count; i++) {
    const name = rng.chance(0.85) ? rng.pick(names) : randomQueryValue(ctx);
    parts.push(rng.chance(0.1) ? name : `${name}=${randomQueryValue(ctx)}`);
  }
  if (rng.chance(0.3)) parts.push(`state=${rng.token(43)}`, `state=${rng.token(43)}`);
  if (rng.chance(0.2)) parts.push(`code=${rng.token(32)}`, `code=${rng.token(32)}`);
  return parts.join(rng.chance(0.9) ? '&' : rng.pick([';', '&&', '&amp;']));
}

function callbackGet(family: string, pathAndQuery: string, method = 'GET', headers: Record<string, string | string[]> = {}): HttpCase {
  return { kind: 'http', family, method, path: pathAndQuery, headers, expect: 'reject' };
}

/** The generators of the HTTP cases, with weights. Each one is a function of the PRNG only (plus the clock). */
const generators: Array<[weight: number, make: (ctx: Context) => Case]> = [
  // Random bytes, random forms, bad encodings — without a valid signature: always refused.
  [8, (ctx) => slackPost('slack:random-bytes', ctx.rng.bytes(ctx.rng.pick([0, 1, 7, 64, 512, 2048, 4096, ctx.rng.int(0, 16384)])), junkSignatureHeaders(ctx))],
  [
    6,
    (ctx) => {
      const { rng } = ctx;
      const pairs: string[] = [];
      for (let i = rng.int(0, 20); i > 0; i--) pairs.push(`${rng.pick(['command', 'text', 'user_id', 'channel_id', 'response_url', 'token', rng.token(5)])}=${randomQueryValue(ctx)}`);
      if (rng.chance(0.5)) pairs.push('command=/sync');
      return slackPost('slack:random-form', pairs.join('&'), junkSignatureHeaders(ctx));
    },
  ],
  [6, (ctx) => slackPost('slack:bad-encoding', ctx.rng.pick(BAD_ENCODINGS), junkSignatureHeaders(ctx))],
  [
    4,
    (ctx) => {
      const body = Buffer.concat([Buffer.from('command=/sync&text='), ctx.rng.pick(RAW_BAD_BYTES), Buffer.from('&user_id=U1')]);
      return slackPost('slack:raw-bad-bytes', body, junkSignatureHeaders(ctx));
    },
  ],
  // Correctly signed, fresh, but never /sync: help (200) at most once per signature, or a 4xx.
  [4, (ctx) => signedHelp(ctx, 'slack:signed-help')],
  [
    4,
    (ctx) => {
      const { rng } = ctx;
      const encoded = rng.pick(BAD_ENCODINGS).replace(/command=[^&]*/g, 'command=/x');
      const body = rng.chance(0.5) ? Buffer.from(encoded) : Buffer.concat([Buffer.from('command=/x&text='), rng.pick(RAW_BAD_BYTES)]);
      return signedHelp(ctx, 'slack:signed-bad-encoding', body);
    },
  ],
  [
    2,
    (ctx) => {
      // A signed help request sent twice (back to back in the list): at most one of them may be accepted.
      return { ...signedHelp(ctx, 'slack:signed-help-twice'), twice: true };
    },
  ],
  // unsigned ssl_check: a legitimate, unsigned 200 that starts nothing.
  [
    2,
    (ctx) => {
      const body = ctx.rng.pick(['ssl_check=1&token=abc', 'ssl_check=1', 'ssl_check=1&command=/sync&text=365', 'ssl_check=1&ssl_check=0', 'token=x&ssl_check=1']);
      return slackPost('slack:ssl-check', body, ctx.rng.chance(0.5) ? { 'content-type': FORM } : junkSignatureHeaders(ctx), 'ok');
    },
  ],
  // Huge bodies around the 16 KiB route limit and the 64 KiB global limit.
  [
    3,
    (ctx) => {
      const size = ctx.rng.pick([16_383, 16_384, 16_385, 20_000, 65_535, 65_536, 65_537, 100_000, 1_048_576]);
      // Unsigned /sync bodies must be refused whatever their size; correctly signed help bodies only by size.
      if (ctx.rng.chance(0.5)) {
        const prefix = 'command=/sync&text=';
        const body = prefix + 'a'.repeat(Math.max(0, size - prefix.length));
        return { ...slackPost('slack:huge-body', body, junkSignatureHeaders(ctx)), mayClose: size > 16_384 };
      }
      const help = helpBody(ctx);
      const body = `${help}&pad=${'a'.repeat(Math.max(0, size - help.length - 5))}`;
      return { ...signedHelp(ctx, 'slack:huge-body-signed-help', body, { expect: size <= 16_384 ? 'ok-or-reject' : 'reject' }), mayClose: size > 16_384 };
    },
  ],
  [
    1,
    (ctx) => {
      const size = ctx.rng.pick([1000, 16_000, 16_384, 16_385, 70_000]);
      const body = `ssl_check=1&pad=${'b'.repeat(size - 16)}`;
      return { ...slackPost('slack:huge-ssl-check', body, { 'content-type': FORM }, size <= 16_384 ? 'ok' : 'reject'), mayClose: size > 16_384 };
    },
  ],
  // Huge header values and huge query strings, near and past Node's 16 KiB header limit.
  [
    3,
    (ctx) => {
      const { rng } = ctx;
      const size = rng.pick([100, 4000, 8000, 15_000, 16_300, 16_500, 40_000]);
      const body = syncBody(ctx);
      const headers: Record<string, string> = { ...freshSigned(ctx, body) };
      const which = rng.int(0, 3);
      if (which === 0) headers['x-slack-signature'] = `${headers['x-slack-signature']}${'0'.repeat(size)}`;
      else if (which === 1) headers['x-slack-request-timestamp'] = `${ctx.now}${'0'.repeat(size)}`;
      else if (which === 2) headers['x-padding'] = 'p'.repeat(size);
      else headers.cookie = `a=${'c'.repeat(size)}`;
      // The valid signature makes the header the only thing wrong; which = 2 and 3 only pad: sign a help body then.
      if (which >= 2) {
        const help = helpBody(ctx);
        return { ...signedHelp(ctx, 'slack:huge-header', help), headers: { ...freshSigned(ctx, help), [which === 2 ? 'x-padding' : 'cookie']: which === 2 ? 'p'.repeat(size) : `a=${'c'.repeat(size)}` }, mayClose: size > 16_000 };
      }
      return { ...slackPost('slack:huge-header', body, headers), mayClose: size > 16_000 };
    },
  ],
  [
    2,
    (ctx) => {
      const { rng } = ctx;
      const count = rng.pick([50, 100, 500, 1000, 2500]);
      const headers: Record<string, string> = { ...junkSignatureHeaders(ctx) };
      for (let i = 0; i < count; i++) headers[`x-h${i}`] = rng.token(4);
      return { ...slackPost('slack:many-headers', 'command=/sync', headers), mayClose: true };
    },
  ],
  [
    3,
    (ctx) => {
      const size = ctx.rng.pick([1000, 8000, 16_000, 16_300, 16_400, 17_000, 70_000]);
      const query = `q=${'a'.repeat(size)}`;
      return { ...slackPost('slack:huge-query', 'command=/sync', junkSignatureHeaders(ctx), 'reject', `${SLACK}?${query}`), mayClose: size > 16_000 };
    },
  ],
  [
    3,
    (ctx) => {
      const size = ctx.rng.pick([1000, 8000, 16_000, 16_300, 16_400, 17_000, 70_000]);
      const param = ctx.rng.pick(['state', 'code', 'error_description', 'x']);
      return { ...callbackGet('callback:huge-query', `${CALLBACK}?${param}=${'s'.repeat(size)}&code=c`), mayClose: size > 16_000 };
    },
  ],
  // Duplicate and conflicting headers.
  [
    4,
    (ctx) => {
      const { rng } = ctx;
      const body = syncBody(ctx);
      const valid = freshSigned(ctx, body);
      const sig = valid['x-slack-signature']!;
      const ts = valid['x-slack-request-timestamp']!;
      const variants: Array<Record<string, string | string[]>> = [
        { ...valid, 'x-slack-signature': [sig, sig] },
        { ...valid, 'x-slack-signature': [sig, `v0=${rng.hex(64)}`] },
        { ...valid, 'x-slack-signature': [`v0=${rng.hex(64)}`, sig] },
        { ...valid, 'x-slack-signature': `${sig}, ${sig}` },
        { ...valid, 'x-slack-request-timestamp': [ts, ts] },
        { ...valid, 'x-slack-request-timestamp': [String(ctx.now - 1000), ts] },
        { ...valid, 'x-slack-request-timestamp': [ts, String(ctx.now - 1000)] },
      ];
      return slackPost('slack:duplicate-signature-headers', body, rng.pick(variants));
    },
  ],
  [
    2,
    (ctx) => {
      // Two Content-Types: Node keeps the first one. Signed help bodies, so either reading is harmless.
      const help = helpBody(ctx);
      const signed = freshSigned(ctx, help);
      const types = ctx.rng.pick([[FORM, 'application/json'], ['application/json', FORM], [FORM, FORM], ['text/plain', FORM]]);
      return { ...signedHelp(ctx, 'slack:duplicate-content-type', help), headers: { ...signed, 'content-type': types } };
    },
  ],
  [
    2,
    (ctx) => {
      const body = syncBody(ctx);
      return slackPost('slack:duplicate-content-type-unsigned', body, { 'content-type': ctx.rng.pick([[FORM, 'application/json'], ['application/json', FORM]]) });
    },
  ],
  // Content types: a signed /sync in anything but a form is refused.
  [
    3,
    (ctx) => {
      const body = syncBody(ctx);
      const type = ctx.rng.pick(CONTENT_TYPES_REFUSED);
      return slackPost('slack:content-type-refused', body, { ...freshSigned(ctx, body), 'content-type': type });
    },
  ],
  [
    1,
    (ctx) => {
      const body = syncBody(ctx);
      const headers: Record<string, string> = { ...freshSigned(ctx, body) };
      delete headers['content-type'];
      return slackPost('slack:content-type-missing', body, headers);
    },
  ],
  [
    2,
    (ctx) => {
      const { rng } = ctx;
      const type = rng.pick(CONTENT_TYPES_MAYBE);
      const help = helpBody(ctx);
      const body = type.includes('utf-16') && rng.chance(0.5) ? Buffer.from(help, 'utf16le') : Buffer.from(help);
      return { ...signedHelp(ctx, 'slack:content-type-charset', body), headers: { ...freshSigned(ctx, body), 'content-type': type } };
    },
  ],
  [1, (ctx) => slackPost('slack:content-type-charset-unsigned', syncBody(ctx), { 'content-type': ctx.rng.pick(CONTENT_TYPES_MAYBE) })],
  // Replays of the legitimate phase's accepted requests, exactly as first sent.
  [
    3,
    (ctx) => {
      const recorded = ctx.rng.pick(ctx.replays);
      return slackPost('slack:replay', recorded.body, recorded.headers);
    },
  ],
  // Valid signatures with stale, future or non-canonical timestamps (signed over that exact timestamp text).
  [
    4,
    (ctx) => {
      const { rng } = ctx;
      const body = syncBody(ctx);
      const ts = rng.pick([
        // Cases are sent a few seconds after they are generated: keep well clear of the 300 s edge.
        String(ctx.now - 400),
        String(ctx.now - 3600),
        String(ctx.now - 86_400 * 365),
        String(ctx.now + 400),
        String(ctx.now + 86_400),
        '0',
        '1',
        '999999999999',
        '-1',
        `-${ctx.now}`,
        `+${ctx.now}`,
        `0${ctx.now}`,
        `${ctx.now}.0`,
        `${ctx.now}e0`,
        `${ctx.now * 1000}`,
        `0x${ctx.now.toString(16)}`,
        '1e9',
        'NaN',
        'Infinity',
        '\uFF11\uFF17\uFF10\uFF10', // full-width digits
        `${ctx.now}\u00a0`,
      ]);
      return slackPost('slack:bad-timestamp', body, { 'content-type': FORM, 'x-slack-request-timestamp': ts, 'x-slack-signature': sign(body, ts) });
    },
  ],
  // Valid signatures over a different body.
  [
    4,
    (ctx) => {
      const { rng } = ctx;
      const signedOver = syncBody(ctx);
      const headers = freshSigned(ctx, signedOver);
      const variants = [
        signedOver.replace(/text=\d+/, 'text=365'),
        `${signedOver}&x=1`,
        `${signedOver}\n`,
        `${signedOver} `,
        signedOver.slice(0, -1),
        signedOver.replace('command=%2Fsync', 'command=/sync'),
        signedOver.replace('U0ALICE001', 'U0MALLORY1'),
        signedOver.toUpperCase(),
        syncBody(ctx),
        `command=/sync&${signedOver}`,
      ];
      return slackPost('slack:signature-other-body', rng.pick(variants), headers);
    },
  ],
  [
    3,
    (ctx) => {
      // Signature mutations that are not just a change of letter case (see the dedicated test below).
      const { rng } = ctx;
      const body = syncBody(ctx);
      const headers = freshSigned(ctx, body);
      const sig = headers['x-slack-signature']!;
      const at = rng.int(3, sig.length - 1);
      const digit = sig[at]!.toLowerCase();
      const replacement = '0123456789abcdef'.replace(digit, '')[rng.int(0, 14)]!;
      const mutations = [
        sig.slice(0, at) + replacement + sig.slice(at + 1),
        sig.slice(0, -1),
        `${sig}0`,
        `${sig}00`,
        sig.replace('v0=', 'v1='),
        sig.replace('v0=', 'V0='),
        sig.replace('v0=', 'v00='),
        sig.replace('v0=', ''),
        sig.replace('v0=', 'v0:'),
        `v0=${Buffer.from(sig.slice(3), 'hex').toString('base64')}`,
        `v0=${sign(body, ctx.now, '')}`.replace('v0=v0=', 'v0='),
        sign(body, ctx.now, `${SIGNING_SECRET} `),
        sign(body, ctx.now, SIGNING_SECRET.toUpperCase()),
        sign(body, ctx.now - 1),
      ];
      let mutated = rng.pick(mutations);
      if (mutated === sig) mutated = `${sig}0`;
      return slackPost('slack:signature-mutated', body, { ...headers, 'x-slack-signature': mutated });
    },
  ],
  // Wrong methods on each route, with correctly signed /sync bodies where a body makes sense.
  [
    4,
    (ctx) => {
      const { rng } = ctx;
      const method = rng.pick(['GET', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD']);
      const body = syncBody(ctx);
      const withBody = method !== 'GET' && method !== 'HEAD' ? Buffer.from(body) : undefined;
      return { kind: 'http', family: `slack:method-${method}`, method, path: SLACK, headers: freshSigned(ctx, body), body: withBody, expect: 'reject' };
    },
  ],
  [
    2,
    (ctx) => {
      const { rng } = ctx;
      const method = rng.pick(['POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD']);
      const path = method === 'HEAD' ? `${CALLBACK}?state=${rng.token(43)}&code=${rng.token(32)}` : `${CALLBACK}?${randomCallbackQuery(ctx)}`;
      const body = method === 'HEAD' ? undefined : Buffer.from(`state=${rng.token(43)}&code=${rng.token(32)}`);
      return { kind: 'http', family: `callback:method-${method}`, method, path, headers: { 'content-type': FORM }, body, expect: 'reject' };
    },
  ],
  [
    1,
    (ctx) => {
      const method = ctx.rng.pick(['POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS']);
      return { kind: 'http', family: `connect:method-${method}`, method, path: '/oauth/whoop', headers: { 'content-type': FORM }, body: Buffer.from('x=1'), expect: 'reject' };
    },
  ],
  // Path tricks: unsigned /sync bodies must be refused whatever the path; signed help bodies may reach the
  // handler where the router treats the path as the same route.
  [
    3,
    (ctx) => {
      const path = ctx.rng.pick(SLACK_ALIASES);
      return slackPost('slack:path-unsigned', syncBody(ctx), junkSignatureHeaders(ctx), 'reject', path);
    },
  ],
  [
    2,
    (ctx) => {
      const path = ctx.rng.pick(SLACK_ALIASES);
      return { ...signedHelp(ctx, 'slack:path-signed-help'), path, family: `slack:path-signed-help` };
    },
  ],
  [
    3,
    (ctx) => {
      const { rng } = ctx;
      const path = rng.pick(CALLBACK_ALIASES);
      const sep = path.includes('?') ? '&' : '?';
      return callbackGet('callback:path', `${path}${sep}state=${rng.token(43)}&code=${rng.token(32)}`);
    },
  ],
  // Forged, malformed and duplicate callbacks.
  [10, (ctx) => callbackGet('callback:random-query', `${CALLBACK}?${randomCallbackQuery(ctx)}`)],
  [
    3,
    (ctx) => {
      const { rng } = ctx;
      const forged = rng.pick([
        `state=${rng.token(43)}&code=${rng.token(32)}`,
        `state=${rng.token(43)}&error=access_denied&error_description=${randomQueryValue(ctx)}`,
        `state=a&state=b&code=c`,
        `state=${rng.token(43)}&state=${rng.token(43)}&code=${rng.token(32)}`,
        `code=${rng.token(32)}`,
        `state=&code=${rng.token(32)}`,
        `state=${rng.token(43)}&code=`,
        `state=${rng.token(43)}`,
        '',
      ]);
      return callbackGet('callback:forged', `${CALLBACK}?${forged}`);
    },
  ],
  [
    2,
    (ctx) => {
      // The legitimate callback again (its state is spent), or its state with another code.
      const spent = new URL(ctx.spentCallback, 'http://x');
      const other = new URLSearchParams(spent.search);
      other.set('code', ctx.rng.token(32));
      return callbackGet('callback:replay', ctx.rng.chance(0.5) ? `${spent.pathname}${spent.search}` : `${spent.pathname}?${other.toString()}`);
    },
  ],
  [
    2,
    (ctx) => {
      // Headers a browser or proxy might add; none of them may matter.
      const { rng } = ctx;
      const headers = rng.pick<Record<string, string | string[]>>([
        { cookie: `state=${rng.token(43)}` },
        { 'x-forwarded-for': '10.0.0.1', 'x-forwarded-host': 'evil.example', 'x-forwarded-proto': 'https' },
        { host: 'evil.example' },
        { referer: 'https://api.prod.whoop.com/' },
        { 'x-original-url': '/oauth/whoop/callback?state=x&code=y' },
        { 'content-length': '0' },
        { 'accept-encoding': 'gzip, br, *' },
        { 'x-slack-signature': [`v0=${rng.hex(64)}`, `v0=${rng.hex(64)}`] },
      ]);
      return callbackGet('callback:headers', `${CALLBACK}?state=${rng.token(43)}&code=${rng.token(32)}`, 'GET', headers);
    },
  ],
];

// ---------------------------------------------------------------------------------------------------------
// POST /mcp and GET /export/<table>.<format>: without the token (or with a wrong one) always refused, and
// never carrying health data; with the token, hostile JSON-RPC and hostile export queries get a 2xx or a 4xx.
// ---------------------------------------------------------------------------------------------------------

const MCP_TOOLS = ['latest', 'daily', 'trend', 'compare_periods', 'correlate', 'workouts', 'sleep', 'sync_status'];
const TOOL_FIELDS = ['member', 'from', 'to', 'days', 'metric', 'a_from', 'a_to', 'b_from', 'b_to', 'x', 'y', 'lag_days', 'sport'];
const EXPORT_TABLES = ['daily', 'cycles', 'recoveries', 'sleeps', 'workouts'];

const HOSTILE_DATES: unknown[] = [
  '0000-01-01', '0001-01-01', '0001-01-05', '1000-02-29', '1899-12-31', '1970-01-01', '2026-02-29', '2024-02-29',
  '2026-02-30', '2026-13-01', '2026-00-10', '2026-01-00', '9999-12-31', '9999-12-25', '99999-01-01', '-001-01-01',
  '+02026-01-01', '2026-1-1', '2026/01/01', '2026-01-01T00:00:00Z', '2026-01-01 ', ' 2026-01-01', '2026-01-01\u0000',
  "2026-01-01'; DROP TABLE whoop_cycles; --", "' OR '1'='1", '', null, 20260101, true, [], {}, { $gt: '' },
];
/** The edges of the calendar that JavaScript and PostgreSQL hold differently: drawn as often as all the rest. */
const EDGE_DATES = ['0000-01-01', '0000-12-31', '0001-01-01', '0001-01-05', '1899-12-31', '1900-01-01', '1900-01-05', '9999-12-31'];
const hostileDate = (ctx: Context): unknown =>
  ctx.rng.chance(0.5) ? ctx.rng.pick(EDGE_DATES) : ctx.rng.pick(HOSTILE_DATES);

const HOSTILE_NUMBERS: unknown[] = [
  0, -1, 1, 14, 15, 30, 366, 367, 3660, 3661, 1.5, -0.5, 1e308, -1e308, 2 ** 53, 2 ** 53 + 2, -(2 ** 63), 2 ** 64,
  '30', '1e3', '', null, true, [], {}, [1], '1; DROP TABLE sync_runs',
];
const HOSTILE_STRINGS: unknown[] = [
  "' OR 1=1 --", "'; DROP TABLE whoop_users; --", '" OR ""="', '%', '_', '\\', '\u0000', '%00', 'x'.repeat(100), 'x'.repeat(101),
  'y'.repeat(10_000), '__proto__', 'constructor', 'toString', 'fuzz', 'FUZZ TARGET', 'Fuzz Target', '  ', '', '\uFFFD',
  '\u202Eevil', '${jndi:ldap://x}', '{{7*7}}', '9223372036854775807', '9223372036854775808', '-1', '0', 'running',
  'recovery_pct', 'day_strain', 'hrv_ms', 123, -5, null, true, [], ['a'], { $ne: 1 }, { toString: 'x' },
];

function hostileValue(ctx: Context, field: string): unknown {
  const { rng } = ctx;
  if (rng.chance(0.08)) return ctx.memberId;
  if (/from|to$/.test(field)) return rng.chance(0.2) ? rng.pick(HOSTILE_STRINGS) : hostileDate(ctx);
  if (field === 'days' || field === 'lag_days') return rng.chance(0.2) ? rng.pick(HOSTILE_STRINGS) : rng.pick(HOSTILE_NUMBERS);
  return rng.chance(0.2) ? rng.pick([...HOSTILE_NUMBERS, ...HOSTILE_DATES]) : rng.pick(HOSTILE_STRINGS);
}

/** Arguments each tool accepts: the base that one hostile value is put into (so that value is the only thing wrong). */
const VALID_ARGUMENTS: Record<string, Record<string, unknown>> = {
  latest: {},
  sync_status: {},
  daily: { days: 10 },
  trend: { metric: 'hrv_ms', days: 30 },
  compare_periods: { a_from: '2026-01-01', a_to: '2026-01-31', b_from: '2026-02-01', b_to: '2026-02-28' },
  correlate: { x: 'day_strain', y: 'recovery_pct', lag_days: 1, days: 90 },
  workouts: { sport: 'running', days: 30 },
  sleep: { days: 7 },
};

function toolArguments(ctx: Context, tool: unknown): unknown {
  const { rng } = ctx;
  const base = typeof tool === 'string' ? VALID_ARGUMENTS[tool] : undefined;
  if (base && rng.chance(0.5)) {
    const own = [...Object.keys(base), 'member', 'from', 'to'];
    const field = rng.chance(0.7) ? rng.pick(own) : rng.chance(0.8) ? rng.pick(TOOL_FIELDS) : rng.pick(['__proto__', 'constructor', rng.token(6)]);
    const args: Record<string, unknown> = { ...base, [field]: hostileValue(ctx, field) };
    // A period given by its ends: the hostile date, and the other end valid.
    if ((field === 'from' || field === 'to') && rng.chance(0.5)) {
      delete args.days;
      args[field === 'from' ? 'to' : 'from'] = rng.pick(['2026-01-01', '1900-01-01', '9999-12-31', '0001-01-01']);
    }
    return args;
  }
  if (rng.chance(0.1)) return rng.pick<unknown>([null, [], 'args', 42, true, { __proto__: { member: 'x' } }, nested(ctx, rng.pick([50, 500]))]);
  const args: Record<string, unknown> = {};
  for (let i = rng.int(0, 6); i > 0; i--) {
    const field = rng.chance(0.9) ? rng.pick(TOOL_FIELDS) : rng.pick(['__proto__', 'constructor', 'prototype', rng.token(6), '']);
    args[field] = hostileValue(ctx, field);
  }
  return args;
}

/** A value nested `depth` levels deep (objects and arrays, alternating at random). */
function nested(ctx: Context, depth: number): unknown {
  let value: unknown = ctx.rng.pick<unknown>(['leaf', 1, null]);
  for (let i = 0; i < depth; i++) value = ctx.rng.chance(0.5) ? [value] : { a: value };
  return value;
}

function rpcId(ctx: Context): unknown {
  return ctx.rng.pick<unknown>([1, 0, -1, 'abc', '', 1.5, 2 ** 53 + 2, 1e308, -1e308, 'i'.repeat(5000), null, true, {}, [], [1], { id: 1 }]);
}

/** A JSON-RPC message that is hostile in one or more ways: version, id, method, params. */
function hostileRpc(ctx: Context): unknown {
  const { rng } = ctx;
  // Half the time a well-formed call of a tool, so the hostility is in its arguments alone.
  if (rng.chance(0.5)) {
    const name = rng.pick(MCP_TOOLS);
    return { jsonrpc: '2.0', id: rng.int(1, 1000), method: 'tools/call', params: { name, arguments: toolArguments(ctx, name) } };
  }
  const message: Record<string, unknown> = {};
  if (rng.chance(0.85)) message.jsonrpc = rng.chance(0.7) ? '2.0' : rng.pick<unknown>(['1.0', '2', '3.0', 2, 2.0, null, '', ' 2.0', '2.0\u0000', ['2.0']]);
  if (rng.chance(0.85)) message.id = rng.chance(0.6) ? rng.int(1, 1000) : rpcId(ctx);
  const method = rng.chance(0.55)
    ? 'tools/call'
    : rng.pick<unknown>(['initialize', 'tools/list', 'prompts/list', 'prompts/get', 'resources/list', 'resources/read', 'ping', 'logging/setLevel', 'completion/complete',
      'notifications/initialized', 'notifications/cancelled', 'x/unknown', '', 'tools/call ', 'TOOLS/CALL', '__proto__', 'constructor', 'rpc.discover', 42, null, {}, 'm'.repeat(5000)]);
  if (rng.chance(0.95)) message.method = method;
  if (method === 'tools/call') {
    const name = rng.chance(0.85) ? rng.pick(MCP_TOOLS) : rng.pick<unknown>(['nonexistent', '', 'latest ', 'LATEST', '__proto__', 'constructor', 'toString', 't'.repeat(5000), 42, null, [], {}]);
    message.params = rng.chance(0.95) ? { name, arguments: toolArguments(ctx, name), ...(rng.chance(0.1) ? { _meta: nested(ctx, 20) } : {}) } : rng.pick<unknown>([null, [], 'p', 7]);
  } else if (method === 'initialize') {
    message.params = rng.pick<unknown>([
      { protocolVersion: rng.pick(['2025-11-25', '2025-06-18', '2024-11-05', '1999-01-01', '', 'x'.repeat(3000)]), capabilities: rng.chance(0.5) ? {} : nested(ctx, 100), clientInfo: { name: 'fuzz', version: '1' } },
      { protocolVersion: 2025 },
      {},
      null,
      [],
    ]);
  } else if (method === 'prompts/get') {
    message.params = { name: rng.pick(['weekly_review', 'nope', '']), arguments: rng.chance(0.5) ? { member: hostileValue(ctx, 'member') } : hostileValue(ctx, 'member') };
  } else if (rng.chance(0.5)) {
    message.params = rng.chance(0.5) ? nested(ctx, rng.pick([10, 100, 1000])) : { cursor: hostileValue(ctx, 'cursor') };
  }
  return message;
}

function mcpHeaders(ctx: Context, authorized: boolean): Record<string, string | string[]> {
  const { rng } = ctx;
  const headers: Record<string, string | string[]> = {
    'content-type': rng.chance(0.95) ? 'application/json' : rng.pick(['text/plain', FORM, 'application/json; charset=utf-16', 'application/jsonx', '*/*']),
  };
  if (rng.chance(0.95)) headers.accept = rng.chance(0.9) ? MCP_ACCEPT : rng.pick(['application/json', 'text/event-stream', '*/*', 'text/html', '']);
  if (rng.chance(0.15)) headers['mcp-protocol-version'] = rng.pick(['2025-11-25', '2025-06-18', '1900-01-01', 'x', '']);
  if (rng.chance(0.1)) headers['mcp-session-id'] = rng.pick([rng.token(36), '', 'x'.repeat(2000)]);
  if (authorized) headers.authorization = `Bearer ${MCP_TOKEN}`;
  else headers.authorization = wrongAuthorization(ctx);
  if (headers.authorization === '') delete headers.authorization;
  return headers;
}

/**
 * Every way of not having the token: none, near misses, other schemes, duplicates (Node keeps the first
 * Authorization header). Not a trailing space: HTTP strips it, so that is the token itself.
 */
function wrongAuthorization(ctx: Context): string | string[] {
  const { rng } = ctx;
  return rng.pick<string | string[]>([
    '',
    `Bearer ${MCP_TOKEN}x`,
    `Bearer ${MCP_TOKEN.slice(0, -1)}`,
    `Bearer ${MCP_TOKEN.toUpperCase()}`,
    `Bearer  ${MCP_TOKEN}`,
    `bearer${MCP_TOKEN}`,
    `Basic ${Buffer.from(`x:${MCP_TOKEN}`).toString('base64')}`,
    MCP_TOKEN,
    `Bearer ${rng.token(40)}`,
    // Shaped like a member's own token (src/team/mcp-tokens.ts), but never issued, or one character off.
    `Bearer wsm_${'A'.repeat(43)}`,
    `Bearer wsm_${'A'.repeat(42)}`,
    `Bearer WSM_${'A'.repeat(43)}`,
    `Bearer ${rng.token(rng.pick([0, 1, 5000]))}`,
    'Bearer',
    `Bearer ${MCP_TOKEN}\u0000`,
    [`Bearer ${rng.token(40)}`, `Bearer ${MCP_TOKEN}`],
    `Bearer ${rng.token(40)}, Bearer ${MCP_TOKEN}`,
  ]);
}

type HeaderMap = Record<string, string | string[]>;
function mcpPost(family: string, body: string | Buffer, headers: HeaderMap, authorized: boolean): HttpCase {
  return { kind: 'http', family, method: 'POST', path: MCP, headers, body: Buffer.from(body), expect: authorized ? 'answer' : 'reject', ...(authorized ? { authorized } : {}) };
}

function mcpBody(ctx: Context): string {
  const { rng } = ctx;
  switch (rng.int(0, 9)) {
    case 0:
      return JSON.stringify(Array.from({ length: rng.pick([0, 1, 2, 20, 100]) }, () => hostileRpc(ctx)));
    case 1:
      return rng.pick(['{"jsonrpc":', '{', '[', 'null', '""', '0', 'true', '{}', '[[]]', '{"jsonrpc":"2.0","id":1,"method":"ping"', '\uFEFF{"jsonrpc":"2.0","id":1,"method":"ping"}']);
    case 2:
      // Keys that repeat, with the last one winning in JSON.parse: the method is smuggled past the first.
      return `{"jsonrpc":"2.0","id":1,"method":"ping","method":"tools/call","params":{"name":"${rng.pick(MCP_TOOLS)}","arguments":{"member":"x","member":${JSON.stringify(hostileValue(ctx, 'member'))}}}}`;
    case 3:
      return `{"jsonrpc":"2.0","id":${rng.pick(['1e999', '-1e999', '123456789012345678901234567890', '0x10', 'NaN', '01', '1.', '"\\ud800"'])},"method":"tools/call","params":{"name":"latest","arguments":{}}}`;
    default:
      return JSON.stringify(hostileRpc(ctx));
  }
}

const EXPORT_PATHS = [
  '/export/../export/daily.csv', '/export/%2e%2e/export/daily.csv', '/export/..%2fsecrets.json', '/export/daily.csv/..', '/export/daily.csv%00',
  '/export/daily.csv%00.json', '/export/..%2F..%2Fetc%2Fpasswd', '/export/%2e%2e%2f%2e%2e%2fetc%2fpasswd.csv', '/export/....//....//etc/passwd',
  '/export/daily.CSV', '/export/DAILY.csv', '/export/daily.xml', '/export/daily', '/export/daily.', '/export/.csv', '/export/', '/export',
  '/export/daily.csv.json', '/export/daily..csv', '/export/daily%2Ecsv', '/export/whoop_users.csv', '/export/whoop_tokens.json', '/export/oauth_states.csv',
  '/export/sync_runs.json', '/export/pg_user.csv', '/export/constructor.json', '/export/__proto__.csv', '/export/toString.json',
  "/export/daily';DROP TABLE whoop_cycles;--.csv", '/export/daily%27.csv', '/export/daily.csv;x', '/export//daily.csv', '//export/daily.csv',
  '/EXPORT/daily.csv', '/export/daily.csv/', `/export/${'d'.repeat(5000)}.csv`, '/export/daily.csv#x', '/export/cycles.json?', '/export/sleeps.csv??',
];

const asQuery = (value: unknown) => encodeURIComponent(typeof value === 'string' ? value : JSON.stringify(value));

function exportQuery(ctx: Context): string {
  const { rng } = ctx;
  const parts: string[] = [];
  if (rng.chance(0.4)) {
    // One hostile parameter next to valid ones.
    const field = rng.pick(['member', 'from', 'to']);
    const valid: Record<string, string> = { member: ctx.memberId, from: '2026-01-01', to: '2026-12-31' };
    for (const name of ['member', 'from', 'to'].filter((n) => n !== field && rng.chance(0.5))) parts.push(`${name}=${valid[name]}`);
    parts.push(`${field}=${rng.chance(0.7) ? asQuery(field === 'member' ? rng.pick(HOSTILE_STRINGS) : hostileDate(ctx)) : randomQueryValue(ctx)}`);
    return parts.join('&');
  }
  const value = (name: string) => {
    if (name === 'member') {
      return rng.chance(0.3) ? ctx.memberId : asQuery(rng.pick<unknown>(['0', '1', '-1', '9223372036854775807', '9223372036854775808', '9999999999999999999', '18446744073709551616', '1 OR 1=1', "1'--", '1e3', '00001', ' 1', '', ...HOSTILE_STRINGS]));
    }
    if (name === 'from' || name === 'to') return rng.chance(0.7) ? asQuery(hostileDate(ctx)) : randomQueryValue(ctx);
    return randomQueryValue(ctx);
  };
  for (let i = rng.int(0, 5); i > 0; i--) {
    const name = rng.chance(0.85) ? rng.pick(['member', 'from', 'to']) : rng.pick(['member[]', 'from[$gt]', 'limit', '__proto__', 'constructor', 'format', '']);
    parts.push(rng.chance(0.05) ? name : `${name}=${value(name)}`);
  }
  return parts.join('&');
}

function exportGet(ctx: Context, authorized: boolean): HttpCase {
  const { rng } = ctx;
  const path = rng.chance(0.75) ? `/export/${rng.pick(EXPORT_TABLES)}.${rng.pick(['csv', 'json'])}` : rng.pick(EXPORT_PATHS);
  const query = exportQuery(ctx);
  const headers: Record<string, string | string[]> = {};
  if (authorized) headers.authorization = `Bearer ${MCP_TOKEN}`;
  else {
    const auth = wrongAuthorization(ctx);
    if (auth !== '') headers.authorization = auth;
    // Forged dashboard sessions: random bytes, the right cookie name, and other cookie tricks.
    if (rng.chance(0.3)) headers.cookie = rng.pick([`whoop_sync_session=${rng.token(rng.pick([10, 100, 200]))}`, `whoop_sync_session=${rng.bytes(96).toString('base64')};whoop_sync_session=x`, 'whoop_sync_session=', `whoop_sync_session=${'a'.repeat(4000)}`, 'signedInAt=1']);
  }
  const full = query === '' && rng.chance(0.5) ? path : `${path}${path.includes('?') ? '&' : '?'}${query}`;
  return { kind: 'http', family: `export:${authorized ? 'token' : 'no-token'}`, method: rng.chance(0.95) ? 'GET' : rng.pick(['HEAD', 'POST', 'PUT', 'DELETE']), path: full, headers, expect: authorized ? 'answer' : 'reject', ...(authorized ? { authorized } : {}) };
}

const mcpExportGenerators: Array<[weight: number, make: (ctx: Context) => Case]> = [
  // Without the token: every body, from valid to hostile, is refused, and says nothing.
  [6, (ctx) => mcpPost('mcp:no-token', mcpBody(ctx), mcpHeaders(ctx, false), false)],
  // With the token: hostile JSON-RPC (tools/call with hostile arguments to every tool, most of all).
  [14, (ctx) => mcpPost('mcp:token', mcpBody(ctx), mcpHeaders(ctx, true), true)],
  [
    2,
    (ctx) => {
      // Oversized bodies, and random bytes, with and without the token.
      const { rng } = ctx;
      const authorized = rng.chance(0.5);
      const size = rng.pick([1000, 65_535, 65_536, 65_537, 300_000, 1_048_577]);
      const body = rng.chance(0.5)
        ? JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: rng.pick(MCP_TOOLS), arguments: { sport: 's'.repeat(size) } } })
        : rng.bytes(rng.pick([1, 100, 4096, size]));
      return { ...mcpPost(`mcp:oversized-${authorized ? 'token' : 'no-token'}`, body, mcpHeaders(ctx, authorized), authorized), mayClose: body.length > 65_536 };
    },
  ],
  [
    2,
    (ctx) => {
      const { rng } = ctx;
      const authorized = rng.chance(0.5);
      const method = rng.pick(['GET', 'DELETE', 'PUT', 'PATCH', 'OPTIONS', 'HEAD']);
      const path = rng.pick([MCP, `${MCP}/`, '/MCP', `${MCP}?x=1`, '//mcp', '/mcp/../mcp', '/mcp%2F', '/mcp;x', '/mcp/sse', '/sse', '/messages']);
      const body = method === 'GET' || method === 'HEAD' ? undefined : Buffer.from(mcpBody(ctx));
      return { kind: 'http', family: `mcp:method-path-${authorized ? 'token' : 'no-token'}`, method, path, headers: mcpHeaders(ctx, authorized), body, expect: authorized ? 'answer' : 'reject', ...(authorized ? { authorized } : {}) };
    },
  ],
  [5, (ctx) => exportGet(ctx, false)],
  [6, (ctx) => exportGet(ctx, true)],
];

/** `count` cases from the families above, in proportion to their weights (a `twice` case counts as two). */
function generate(setting: Setting, seed: number, count: number): Case[] {
  const families = [...generators, ...mcpExportGenerators].map(([weight, make]) => ({
    weight,
    arbitrary: draws.map((rng) => make({ ...setting, rng })),
  }));
  const made = fc.sample(fc.oneof(...families), { seed, numRuns: count });
  return made.flatMap((c) => (c.twice ? [c, { ...c }] : [c])).slice(0, count);
}

// ---------------------------------------------------------------------------------------------------------
// Raw-socket cases: framing and header tricks that fetch and node:http refuse to send
// ---------------------------------------------------------------------------------------------------------

/**
 * Asks the service to close the connection once it has answered, so the client knows it has everything
 * without waiting (the first CRLF CRLF ends the header block; requests without one are left alone, as is
 * the pipelining case, whose second request must reach the parser).
 */
function withClose(family: string, request: string): string {
  const end = request.indexOf('\r\n\r\n');
  if (end === -1 || family === 'raw:pipelined' || /\r\nconnection:/i.test(request.slice(0, end))) return request;
  return `${request.slice(0, end)}\r\nConnection: close${request.slice(end)}`;
}

function rawCases(ctx: Context): RawCase[] {
  const { rng, port } = ctx;
  const host = `127.0.0.1:${port}`;
  const cases: RawCase[] = [];
  const add = (family: string, bytes: Buffer | string, expectation: Expect = 'reject', mayClose = true) =>
    cases.push({ kind: 'raw', family, bytes: typeof bytes === 'string' ? Buffer.from(withClose(family, bytes), 'latin1') : bytes, expect: expectation, mayClose });
  const head = (lines: string[]) => `${lines.join('\r\n')}\r\n\r\n`;
  const signedSync = () => {
    const body = syncBody(ctx);
    return { body, ts: String(ctx.now), sig: sign(body, ctx.now) };
  };

  for (let round = 0; round < 3; round++) {
    // Content-Length larger than the body (the client then stops sending), and smaller than the body (the
    // rest becomes a second, garbage request on the same connection).
    {
      const { body, ts, sig } = signedSync();
      add('raw:content-length-too-big', head([`POST ${SLACK} HTTP/1.1`, `Host: ${host}`, `Content-Type: ${FORM}`, `Content-Length: ${body.length + rng.int(1, 500)}`, `X-Slack-Request-Timestamp: ${ts}`, `X-Slack-Signature: ${sig}`]) + body);
    }
    {
      const { body, ts, sig } = signedSync();
      const cut = rng.int(1, body.length - 1);
      add('raw:content-length-too-small', head([`POST ${SLACK} HTTP/1.1`, `Host: ${host}`, `Content-Type: ${FORM}`, `Content-Length: ${cut}`, `X-Slack-Request-Timestamp: ${ts}`, `X-Slack-Signature: ${sig}`]) + body);
    }
    {
      const { body, ts, sig } = signedSync();
      for (const cl of [`${body.length}, ${body.length}`, `${body.length}\r\nContent-Length: ${body.length + 1}`, `-${body.length}`, `+${body.length}`, `0x${body.length.toString(16)}`, ` ${body.length}a`, '99999999999999999999']) {
        add('raw:content-length-malformed', head([`POST ${SLACK} HTTP/1.1`, `Host: ${host}`, `Content-Type: ${FORM}`, `Content-Length: ${cl}`, `X-Slack-Request-Timestamp: ${ts}`, `X-Slack-Signature: ${sig}`]) + body);
      }
    }
    // Transfer-Encoding: chunked with bad chunks, each around its own correctly signed /sync body (so a
    // body that got through intact would be a sync: nothing may start).
    {
      const badChunks: Array<(body: string, size: string) => string> = [
        (body) => `zz\r\n${body}\r\n0\r\n\r\n`,
        (body, size) => `${size}\r\n${body}0\r\n\r\n`,
        (body) => `${(body.length + 10).toString(16)}\r\n${body}\r\n0\r\n\r\n`,
        (body) => `${(body.length - 5).toString(16)}\r\n${body}\r\n0\r\n\r\n`,
        (body) => `ffffffffffffffffffff\r\n${body}\r\n0\r\n\r\n`,
        (body) => `-1\r\n${body}\r\n0\r\n\r\n`,
        (body, size) => `${size}\n${body}\n0\n\n`,
        (body, size) => `${size} \r\n${body}\r\n0\r\n\r\n`,
        (body, size) => `${size}\r\n${body}\r\n`,
        (body, size) => `${size}\r\n${body}\r\n1\r\n`,
        (body, size) => `${size};${'e'.repeat(20_000)}\r\n${body}\r\n0\r\n\r\n`,
      ];
      const base = (ts: string, sig: string) => [`POST ${SLACK} HTTP/1.1`, `Host: ${host}`, `Content-Type: ${FORM}`, `X-Slack-Request-Timestamp: ${ts}`, `X-Slack-Signature: ${sig}`];
      for (const chunks of badChunks) {
        const { body, ts, sig } = signedSync();
        add('raw:chunked-bad', head([...base(ts, sig), 'Transfer-Encoding: chunked']) + chunks(body, body.length.toString(16)));
      }
      for (const te of ['chunked, chunked', 'chunked, gzip', 'gzip', 'identity', 'chunked\r\nTransfer-Encoding: chunked', 'xchunked', 'chunked\u000b']) {
        const { body, ts, sig } = signedSync();
        add('raw:transfer-encoding-odd', head([...base(ts, sig), `Transfer-Encoding: ${te}`]) + `${body.length.toString(16)}\r\n${body}\r\n0\r\n\r\n`);
      }
      // Spellings that still end in chunked (Node accepts them and hands the chunks over undecoded): the
      // body arrives intact, so they carry signed help bodies.
      for (const te of ['gzip, chunked', ' chunked', 'Chunked', 'CHUNKED']) {
        const help = helpBody(ctx);
        const sig = sign(help, ctx.now);
        cases.push({
          kind: 'raw',
          family: 'raw:transfer-encoding-chunked-spelling',
          bytes: Buffer.from(head([...base(String(ctx.now), sig), `Transfer-Encoding: ${te}`]) + `${Buffer.byteLength(help).toString(16)}\r\n${help}\r\n0\r\n\r\n`, 'utf8'),
          expect: 'ok-or-reject',
          mayClose: true,
          signatureKey: sig,
        });
      }
      {
        const { body, ts, sig } = signedSync();
        add('raw:te-and-cl', head([...base(ts, sig), 'Transfer-Encoding: chunked', `Content-Length: ${body.length}`]) + `${body.length.toString(16)}\r\n${body}\r\n0\r\n\r\n`);
      }
      {
        const { body, ts, sig } = signedSync();
        add('raw:cl-and-te', head([...base(ts, sig), `Content-Length: 4`, 'Transfer-Encoding: chunked']) + `${body.length.toString(16)}\r\n${body}\r\n0\r\n\r\n`);
      }
      {
        // A chunked body over 16 KiB in many chunks: refused by size, never by a crash.
        const { ts, sig } = signedSync();
        const many = Array.from({ length: 40 }, () => `400\r\n${'a'.repeat(0x400)}\r\n`).join('') + '0\r\n\r\n';
        add('raw:chunked-oversized', head([...base(ts, sig), 'Transfer-Encoding: chunked']) + many);
      }
    }
    // Well-formed chunked signed help requests (plain, and with a trailer): legitimate framing, help at most once.
    for (const trailer of ['', `X-Trailer: ${'t'.repeat(100)}\r\n`]) {
      const help = helpBody(ctx);
      const sig = sign(help, ctx.now);
      const chunked = `${Buffer.byteLength(help).toString(16)}\r\n${help}\r\n0\r\n${trailer}\r\n`;
      cases.push({
        kind: 'raw',
        family: 'raw:chunked-signed-help',
        bytes: Buffer.from(head([`POST ${SLACK} HTTP/1.1`, `Host: ${host}`, `Content-Type: ${FORM}`, `X-Slack-Request-Timestamp: ${ctx.now}`, `X-Slack-Signature: ${sig}`, 'Transfer-Encoding: chunked', 'Connection: close']) + chunked, 'utf8'),
        expect: 'ok-or-reject',
        signatureKey: sig,
      });
    }
    // Duplicate headers on the wire.
    {
      const { body, ts, sig } = signedSync();
      const base = [`POST ${SLACK} HTTP/1.1`, `Host: ${host}`, `Content-Length: ${body.length}`, 'Connection: close'];
      add('raw:two-signatures', head([...base, `Content-Type: ${FORM}`, `X-Slack-Request-Timestamp: ${ts}`, `X-Slack-Signature: ${sig}`, `X-Slack-Signature: ${sig}`]) + body, 'reject', false);
      add('raw:two-signatures-case', head([...base, `Content-Type: ${FORM}`, `X-Slack-Request-Timestamp: ${ts}`, `x-slack-signature: v0=${rng.hex(64)}`, `X-SLACK-SIGNATURE: ${sig}`]) + body, 'reject', false);
      add('raw:two-timestamps', head([...base, `Content-Type: ${FORM}`, `X-Slack-Request-Timestamp: ${ts}`, `X-Slack-Request-Timestamp: ${ts}`, `X-Slack-Signature: ${sig}`]) + body, 'reject', false);
      add('raw:two-content-types', head([...base, 'Content-Type: application/json', `Content-Type: ${FORM}`, `X-Slack-Request-Timestamp: ${ts}`, `X-Slack-Signature: ${sig}`]) + body, 'reject', false);
      add('raw:two-hosts', head([...base, 'Host: evil.example', `Content-Type: ${FORM}`, 'X-Slack-Request-Timestamp: 1', `X-Slack-Signature: ${sig}`]) + body);
    }
    // Header syntax that a conforming client never sends.
    {
      const { body, ts, sig } = signedSync();
      const base = [`POST ${SLACK} HTTP/1.1`, `Host: ${host}`, `Content-Type: ${FORM}`, `Content-Length: ${body.length}`];
      const odd = [
        [...base, `X-Slack-Request-Timestamp: ${ts}`, `X-Slack-Signature: v0=${rng.hex(64)}\u0000${sig}`],
        [...base, `X-Slack-Request-Timestamp: ${ts}`, `X-Slack-Signature: v0=${rng.hex(32)}`, ` ${sig.slice(0, 10)}`], // obs-fold
        [...base, `X-Slack-Request-Timestamp: ${ts}`, `X-Slack-Signature : ${sig}`],
        [...base, `X-Slack-Request-Timestamp: ${ts}`, `X-Slack Signature: ${sig}`],
        [...base, `X-Slack-Request-Timestamp: ${ts}`, `: ${sig}`],
        [...base, `X-Slack-Request-Timestamp: ${ts}`, `X-Slack-Signature:${sig}\rX-Evil: 1`],
        [...base, `X-Slack-Request-Timestamp: ${ts}`, `X-Slack-Signature: ${sig}`, 'Expect: bogus'],
        [...base, `X-Slack-Request-Timestamp: ${ts}\u0000`, `X-Slack-Signature: v0=${rng.hex(64)}`],
        [...base, `X-Slack-Request-Timestamp: ${ts}`, `X-Slack-Signature: v0=${rng.hex(64)}`, `X-Bin: ${String.fromCharCode(1, 2, 3, 0x7f)}`],
      ];
      for (const lines of odd) add('raw:header-syntax', head(lines) + body);
      add('raw:bare-lf', `POST ${SLACK} HTTP/1.1\nHost: ${host}\nContent-Type: ${FORM}\nContent-Length: ${body.length}\nX-Slack-Request-Timestamp: ${ts}\nX-Slack-Signature: v0=${rng.hex(64)}\n\n${body}`);
      add('raw:expect-continue', head([...base, 'Expect: 100-continue', `X-Slack-Request-Timestamp: ${ts}`, `X-Slack-Signature: v0=${rng.hex(64)}`, 'Connection: close']) + body, 'reject', false);
    }
    // Request lines: methods, versions, targets.
    {
      const q = `state=${rng.token(43)}&code=${rng.token(32)}`;
      const lines = [
        `GET ${CALLBACK}?${q} HTTP/1.0\r\n\r\n`,
        `GET ${CALLBACK}?${q} HTTP/1.1\r\n\r\n`, // no Host
        `GET ${CALLBACK}?${q} HTTP/2.0\r\nHost: ${host}\r\n\r\n`,
        `GET ${CALLBACK}?${q} HTTP/9.9\r\nHost: ${host}\r\n\r\n`,
        `GET ${CALLBACK}?${q}\r\n\r\n`,
        `get ${CALLBACK}?${q} HTTP/1.1\r\nHost: ${host}\r\n\r\n`,
        `FOO ${CALLBACK}?${q} HTTP/1.1\r\nHost: ${host}\r\n\r\n`,
        `TRACE ${CALLBACK}?${q} HTTP/1.1\r\nHost: ${host}\r\n\r\n`,
        `CONNECT ${host} HTTP/1.1\r\nHost: ${host}\r\n\r\n`,
        `OPTIONS * HTTP/1.1\r\nHost: ${host}\r\n\r\n`,
        `GET http://${host}${CALLBACK}?${q} HTTP/1.1\r\nHost: ${host}\r\n\r\n`,
        `GET http://evil.example${CALLBACK}?${q} HTTP/1.1\r\nHost: ${host}\r\n\r\n`,
        `GET ${CALLBACK}?${q}#frag HTTP/1.1\r\nHost: ${host}\r\n\r\n`,
        `GET ${CALLBACK}?state=a b&code=c HTTP/1.1\r\nHost: ${host}\r\n\r\n`,
        `GET ${CALLBACK}?state=a\u0000&code=c HTTP/1.1\r\nHost: ${host}\r\n\r\n`,
        `GET ${CALLBACK}?state=\u00ff\u00fe&code=c HTTP/1.1\r\nHost: ${host}\r\n\r\n`,
        `GET \\oauth\\whoop\\callback?${q} HTTP/1.1\r\nHost: ${host}\r\n\r\n`,
        `GET ${CALLBACK}\t?${q} HTTP/1.1\r\nHost: ${host}\r\n\r\n`,
        `GET  ${CALLBACK}?${q}  HTTP/1.1\r\nHost: ${host}\r\n\r\n`,
        `GET ${CALLBACK}?${'x'.repeat(20_000)} HTTP/1.1\r\nHost: ${host}\r\n\r\n`,
        `GET ${CALLBACK}?${q} HTTP/1.1\r\nHost: ${host}\r\nX-Long: ${'l'.repeat(17_000)}\r\n\r\n`,
        `\r\n\r\nGET ${CALLBACK}?${q} HTTP/1.1\r\nHost: ${host}\r\n\r\n`,
        `POST ${SLACK} HTTP/1.1\r\nHost: ${host}\r\nContent-Type: ${FORM}\r\nContent-Length: 0\r\n\r\n`,
        `POST ${SLACK} HTTP/1.1\r\nHost: ${host}\r\nContent-Type: ${FORM}\r\n\r\n`,
        `POST ${SLACK}?${q} HTTP/1.1\r\nHost: ${host}\r\nContent-Length: 11\r\n\r\ncommand=/sy`,
      ];
      for (const line of lines) add('raw:request-line', line);
      // Pipelining: a garbage request behind a plain forged callback.
      add('raw:pipelined', `GET ${CALLBACK}?${q} HTTP/1.1\r\nHost: ${host}\r\n\r\n${rng.bytes(64).toString('latin1')}\r\n\r\n`);
      add('raw:random-bytes', rng.bytes(rng.int(1, 4096)));
      add('raw:random-bytes-after-line', Buffer.concat([Buffer.from(`POST ${SLACK} HTTP/1.1\r\nHost: ${host}\r\n`), rng.bytes(rng.int(1, 2048))]));
    }
    // NUL and invalid UTF-8 in an otherwise well-framed body.
    {
      const body = Buffer.concat([Buffer.from('command=/sync&text='), rng.pick(RAW_BAD_BYTES), Buffer.from('\u0000&user_id=\u0000')]);
      add('raw:body-nul', Buffer.concat([Buffer.from(head([`POST ${SLACK} HTTP/1.1`, `Host: ${host}`, `Content-Type: ${FORM}`, `Content-Length: ${body.length}`, `X-Slack-Request-Timestamp: ${ctx.now}`, `X-Slack-Signature: ${sign(body, ctx.now, 'wrong')}`, 'Connection: close'])), body]), 'reject', false);
    }
  }
  return cases;
}

// ---------------------------------------------------------------------------------------------------------
// Transport
// ---------------------------------------------------------------------------------------------------------

/**
 * The public routes are rate limited per client address (a few dozen requests a minute). Sent from one
 * address, nearly the whole run would be answered 429 by the limiter before any handler ran. So most cases
 * come from a pool of loopback addresses (127.0.1.x for HTTP, 127.0.2.x for raw sockets; Linux routes all
 * of 127/8 to lo), a few consecutive cases per address, which keeps every address under the limits; one
 * case in ten comes from 127.0.0.1, which floods past the limits and so exercises the limiter as well.
 */
let spreadAddresses = true;
const ADDRESS_POOL = 250;
function sourceFor(kind: Case['kind'], index: number): string {
  if (!spreadAddresses || index % 10 === 0) return '127.0.0.1';
  return `127.0.${kind === 'http' ? 1 : 2}.${1 + (Math.floor(index / 10) % ADDRESS_POOL)}`;
}

async function canBind(port: number, localAddress: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host: '127.0.0.1', localAddress });
    socket.on('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.on('error', () => resolve(false));
  });
}

function sendHttp(port: number, c: HttpCase, localAddress: string): Promise<Outcome> {
  return new Promise((resolve) => {
    let settled = false;
    const done = (outcome: Outcome) => {
      if (settled) return;
      settled = true;
      resolve(outcome);
    };
    // node:http frames a DELETE or OPTIONS body with nothing unless told the length (the bytes would then
    // arrive as a second, garbage request): always say it. Wrong lengths are the raw-socket cases' job.
    const headers = c.body !== undefined && !Object.keys(c.headers).some((h) => h.toLowerCase() === 'content-length') ? { ...c.headers, 'content-length': String(c.body.length) } : c.headers;
    let request: http.ClientRequest;
    try {
      // One connection per request: after a 413, a 431 or a framing error the service answers and closes
      // the connection, and a kept-alive client socket would then fail the next, unrelated case.
      request = http.request({ host: '127.0.0.1', port, localAddress, method: c.method, path: c.path, headers, agent: false, timeout: 15_000 }, (response) => {
        const chunks: Buffer[] = [];
        let size = 0;
        response.on('data', (chunk: Buffer) => {
          if (size < 65_536) chunks.push(chunk);
          size += chunk.length;
        });
        const finish = () => {
          const status = response.statusCode ?? 0;
          const body = Buffer.concat(chunks).toString('utf8');
          done({ status, statuses: [status], snippet: body.slice(0, 300), body });
        };
        response.on('end', finish);
        response.on('error', finish);
        response.on('aborted', finish);
      });
    } catch {
      // node:http refuses some of what the fuzz wants to send (characters above U+00FF in a header, a
      // space or a '#' in the path): send the very same request over a raw socket instead.
      void sendRaw(port, asRaw(port, c), localAddress).then(done);
      return;
    }
    request.on('timeout', () => request.destroy(new Error('timeout')));
    request.on('error', (error: NodeJS.ErrnoException) => done({ status: 0, statuses: [], error: error.code ?? error.message, snippet: '', body: '' }));
    request.end(c.body);
  });
}

/** The same request, written by hand (UTF-8, one header line per value, explicit length, then close). */
function asRaw(port: number, c: HttpCase): RawCase {
  const lines = [`${c.method} ${c.path} HTTP/1.1`, `Host: 127.0.0.1:${port}`];
  for (const [name, value] of Object.entries(c.headers)) for (const v of Array.isArray(value) ? value : [value]) lines.push(`${name}: ${v}`);
  if (c.body !== undefined && !('content-length' in c.headers)) lines.push(`Content-Length: ${c.body.length}`);
  lines.push('Connection: close');
  return { ...c, kind: 'raw', bytes: Buffer.concat([Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'utf8'), c.body ?? Buffer.alloc(0)]) };
}

/**
 * Writes the bytes and collects everything the service sends back until it closes the connection. The
 * write side stays open at first: Node aborts a request whose client half-closes before the (asynchronous)
 * answer is written. Only when nothing at all has come back after a while (a request the service is still
 * waiting to complete: a Content-Length larger than the body, a missing last chunk) does the client
 * half-close, which tells the service that nothing more will come.
 */
function sendRaw(port: number, c: RawCase, localAddress: string): Promise<Outcome> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host: '127.0.0.1', localAddress });
    const chunks: Buffer[] = [];
    let error: string | undefined;
    let idle: NodeJS.Timeout | undefined;
    const giveUp = setTimeout(() => {
      error ??= 'timeout';
      socket.destroy();
    }, 5000);
    const nudge = setTimeout(() => socket.end(), 1000);
    socket.on('connect', () => socket.write(c.bytes));
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      clearTimeout(nudge);
      // An answer without "Connection: close" (the pipelining case): stop once the service goes quiet.
      clearTimeout(idle);
      idle = setTimeout(() => socket.destroy(), 300);
    });
    socket.on('error', (err: NodeJS.ErrnoException) => (error ??= err.code ?? err.message));
    socket.on('close', () => {
      clearTimeout(giveUp);
      clearTimeout(nudge);
      clearTimeout(idle);
      const text = Buffer.concat(chunks).toString('latin1');
      // Every response on the connection (several with pipelining); 1xx are interim, not answers.
      const statuses = [...text.matchAll(/(?:^|\r\n)HTTP\/1\.[01] (\d{3}) /g)].map((m) => Number(m[1])).filter((s) => s >= 200);
      const body = text.slice(0, 65_536);
      resolve({ status: statuses[0] ?? 0, statuses, ...(error ? { error } : {}), snippet: text.slice(0, 300), body });
    });
  });
}

async function runAll(port: number, cases: Case[]): Promise<Outcome[]> {
  const outcomes: Outcome[] = new Array(cases.length);
  // HTTP requests and raw-socket cases run side by side, each with its own pool of workers.
  const httpIndexes = cases.flatMap((c, i) => (c.kind === 'http' ? [i] : []));
  const rawIndexes = cases.flatMap((c, i) => (c.kind === 'raw' ? [i] : []));
  const drain = async (indexes: number[]) => {
    for (let i = indexes.shift(); i !== undefined; i = indexes.shift()) {
      const c = cases[i]!;
      outcomes[i] = c.kind === 'http' ? await sendHttp(port, c, sourceFor('http', i)) : await sendRaw(port, c, sourceFor('raw', i));
    }
  };
  await Promise.all([
    ...Array.from({ length: HTTP_CONCURRENCY }, () => drain(httpIndexes)),
    ...Array.from({ length: RAW_CONCURRENCY }, () => drain(rawIndexes)),
  ]);
  return outcomes;
}

/** Health data in an answer to a request without the token (a value the request itself carries may be echoed). */
function leak(c: Case, outcome: Outcome, healthData: string[]): string | undefined {
  if (c.authorized) return undefined;
  const sent = c.kind === 'http' ? `${c.path}${c.body?.toString('utf8') ?? ''}` : c.bytes.toString('utf8');
  const found = healthData.filter((value) => outcome.body.includes(value) && !sent.includes(value));
  return found.length > 0 ? `health data in an answer without the token: ${found.join(', ')}` : undefined;
}

function violation(c: Case, outcome: Outcome): string | undefined {
  const statuses = outcome.statuses.length > 0 ? outcome.statuses : [outcome.status];
  if (statuses.some((s) => s >= 500)) return `answered ${statuses.join(',')}`;
  if (outcome.status === 0) return c.mayClose ? undefined : `no answer (${outcome.error ?? 'closed'})`;
  const first = outcome.status;
  if (first === 429) return undefined;
  const is4xx = first >= 400 && first < 500;
  if (c.expect === 'reject' && !is4xx) return `expected a 4xx, got ${first}`;
  if (c.expect === 'ok' && first !== 200) return `expected 200, got ${first}`;
  if (c.expect === 'ok-or-reject' && first !== 200 && !is4xx) return `expected 200 or a 4xx, got ${first}`;
  if (c.expect === 'answer' && !(first >= 200 && first < 300) && !is4xx) return `expected a 2xx or a 4xx, got ${first}`;
  // A tool's own failure (its database query threw) is answered as a tool error in a 200: input must never cause one.
  if (outcome.body.includes('could not read its database')) return 'a tool failed inside the service';
  return undefined;
}

// ---------------------------------------------------------------------------------------------------------
// Memory of the service process
// ---------------------------------------------------------------------------------------------------------

function rssOf(pid: number): number | undefined {
  try {
    const match = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** Memory the service holds on to: V8's heap plus buffers outside it (sockets, bodies), from /metrics. */
async function retainedOf(url: string): Promise<number | undefined> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const value = (name: string) => {
    const match = new RegExp(`^${name} (\\d+(?:\\.\\d+)?(?:e\\+\\d+)?)$`, 'm').exec(text);
    return match ? Number(match[1]) : undefined;
  };
  const heap = value('nodejs_heap_size_used_bytes');
  const external = value('nodejs_external_memory_bytes');
  return heap === undefined || external === undefined ? undefined : heap + external;
}

/**
 * The service runs with a test-only preload (NODE_OPTIONS, below) that exposes gc() and runs a full
 * collection on SIGWINCH. Sampling after a collection makes retained memory a stable number, in which
 * anything kept per request would show; RSS is reported next to it.
 */
type MemorySample = { rss: number | undefined; retained: number | undefined };

async function sampleMemory(pid: number, url: string): Promise<MemorySample> {
  process.kill(pid, 'SIGWINCH');
  await new Promise((resolve) => setTimeout(resolve, 300));
  const rss: number[] = [];
  const retained: number[] = [];
  for (let i = 0; i < 3; i++) {
    const r = rssOf(pid);
    if (r !== undefined) rss.push(r);
    const kept = await retainedOf(url).catch(() => undefined);
    if (kept !== undefined) retained.push(kept);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const median = (values: number[]) =>
    values.length === 0 ? undefined : [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
  return { rss: median(rss), retained: median(retained) };
}

/** Test-only instrumentation of the service process: `gc()` on SIGWINCH (nothing in src/ is changed). */
const GC_ON_SIGWINCH = `--expose-gc --import=data:text/javascript,process.on('SIGWINCH',()=>globalThis.gc())`;

/** Whether this Node accepts the instrumentation in NODE_OPTIONS (without it: an RSS bound instead). */
function gcPreloadWorks(): boolean {
  const probe = spawnSync(process.execPath, ['-e', 'process.stdout.write(typeof gc)'], {
    env: { PATH: process.env.PATH ?? '', NODE_OPTIONS: GC_ON_SIGWINCH },
    encoding: 'utf8',
  });
  return probe.status === 0 && probe.stdout === 'function';
}

const mb = (bytes: number | undefined) => (bytes === undefined ? 'n/a' : `${(bytes / 1024 / 1024).toFixed(1)} MB`);

// ---------------------------------------------------------------------------------------------------------
// The run
// ---------------------------------------------------------------------------------------------------------

describe('fuzzing the public routes of the service process', () => {
  let testDb: TestDatabase;
  let whoop: FakeWhoop;
  let slack: FakeSlack;
  let member: Member;
  let server: ServerProcess;
  let url: string;
  let port: number;

  let gcAvailable = false;

  beforeAll(async () => {
    gcAvailable = gcPreloadWorks();
    testDb = await createTestDatabase();
    whoop = await startFakeWhoop();
    slack = await startFakeSlack();
    member = whoop.addMember({ first_name: 'Fuzz', last_name: 'Target', email: 'fuzz@example.com' });
    whoop.generate(member.user_id, { days: 5, seed: 7 });
    server = startServerProcess({
      ...testDb.env,
      ...(gcAvailable ? { NODE_OPTIONS: GC_ON_SIGWINCH } : {}),
      LOG_LEVEL: 'info', // 'Server listening at' is an info line
      SYNC_SCHEDULES: 'off',
      MCP_TOKEN,
      DASHBOARD_PASSWORD,
      ...fakesEnv(whoop, slack),
      // The member's history on connect goes on in the background, paced by the budget, into the fuzz phase,
      // whose WHOOP requests must be none.
      WHOOP_HISTORY_SINCE: 'off',
    });
    url = await server.listening(30_000);
    port = Number(new URL(url).port);
    spreadAddresses = (await canBind(port, '127.0.1.1')) && (await canBind(port, '127.0.2.1'));
  });

  afterAll(async () => {
    if (server) await server.stop();
    await whoop?.close();
    await slack?.close();
    await testDb?.drop();
  });

  it('answers thousands of malformed, forged and replayed requests with 4xx, starts nothing, and stays flat in memory', async () => {
    // One seed per batch of cases, all derived from SEED.
    let batch = 0;
    const nextSeed = () => SEED + ++batch;
    const [legitTokens] = drawn(nextSeed(), 1, (rng) => [rng.token(8), rng.token(8), rng.token(8)]);

    // --- The legitimate phase: what a real person and Slack do. These are the only requests allowed to
    // reach WHOOP or to record a run.
    const personal = await startPersonalConnect(url);
    const callback = new URL(await whoop.approve(personal.location, member.user_id));
    const spentCallback = `${callback.pathname}${callback.search}`;
    const connected = await fetch(`${url}${spentCallback}`, { headers: { cookie: personal.cookie } });
    expect(connected.status, await connected.clone().text()).toBe(200);
    expect(whoop.stats.codeExchanges).toBe(1);

    const legit: Array<{
      name: string;
      body: string;
      headers: Record<string, string>;
      response: Response;
      text: string;
    }> = [];
    const sendLegit = async (name: string, body: string, headers: Record<string, string>) => {
      const response = await fetch(`${url}${SLACK}`, { method: 'POST', headers, body });
      const text = await response.text();
      legit.push({ name, body, headers, response, text });
      return { response, text };
    };
    const first = slashCommandBody('3', { trigger_id: `legit-1.${legitTokens![0]}` });
    const a1 = await sendLegit('valid /sync', first, signedHeaders(first));
    expect(a1.response.status).toBe(200);
    expect(JSON.parse(a1.text)).toEqual({ response_type: 'ephemeral', text: '⏳ Syncing last 3 days...' });
    const replayed = await sendLegit('exact replay', first, legit[0]!.headers);
    expect(replayed.response.status).toBe(401);
    expect(replayed.text).toContain('replayed');
    // Correctly signed but with a duplicate command parameter: authentic, so whether it runs is the
    // service's choice; the count below follows what it answered.
    const doubled = `${slashCommandBody('2', { trigger_id: `legit-2.${legitTokens![1]}` })}&command=%2Fx`;
    await sendLegit('signed duplicate command', doubled, signedHeaders(doubled));
    const help = slashCommandBody('', { command: '/weather', trigger_id: `legit-3.${legitTokens![2]}` });
    const helped = await sendLegit('signed help', help, signedHeaders(help));
    expect(helped.response.status).toBe(200);
    expect(helped.text).toContain('/sync [days]');
    const ssl = await sendLegit('ssl_check', 'ssl_check=1&token=x', { 'content-type': FORM });
    expect(ssl.response.status).toBe(200);
    expect(ssl.text).toBe('');

    const accepted = legit.filter((l) => l.response.status === 200 && l.text.includes('⏳ Syncing'));
    const expectedRuns = accepted.length; // 1 or 2
    expect(expectedRuns).toBeGreaterThanOrEqual(1);
    // Every accepted run ends in one result message; after that, nothing legitimate is left in flight.
    await slack.waitForMessages(expectedRuns, 30_000);
    expect(slack.messages.every((m) => m.text.startsWith('✅'))).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 300));

    // With the token, the MCP server and the exports answer with the member's data: what no answer without
    // the token may contain (ids, names, the exports' column names, the values of the days as written).
    const memberId = String(member.user_id);
    const toolCall = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'daily', arguments: { days: 10 } } });
    const mcpAnswer = await fetch(`${url}${MCP}`, { method: 'POST', headers: { authorization: `Bearer ${MCP_TOKEN}`, 'content-type': 'application/json', accept: MCP_ACCEPT }, body: toolCall });
    const mcpText = await mcpAnswer.text();
    expect(mcpAnswer.status, mcpText).toBe(200);
    expect(mcpText).toContain('Fuzz Target');
    const exported = await fetch(`${url}/export/daily.json`, { headers: { authorization: `Bearer ${MCP_TOKEN}` } });
    const days = (await exported.json()) as Array<Record<string, unknown>>;
    expect(days.length).toBeGreaterThan(0);
    const healthData = [
      'Fuzz Target',
      'fuzz@example.com',
      'hrv_rmssd_milli',
      'recovery_score',
      ...days
        .flatMap((day) => [day.cycle_id, day.sleep_id, day.hrv_rmssd_milli, day.resting_heart_rate])
        .filter((v) => v !== null && String(v).length >= 5)
        .map(String),
    ];

    const setting: Setting = {
      port,
      now: Math.floor(Date.now() / 1000),
      replays: accepted.map(({ body, headers }) => ({ body, headers })),
      spentCallback,
      memberId,
    };

    // --- Warm-up, then the measured bulk.
    whoop.resetStats();
    const messagesBefore = slack.messages.length;
    const callsBefore = slack.calls.length;
    const allCases: Case[] = [];
    const allOutcomes: Outcome[] = [];
    const run = async (cases: Case[]) => {
      const outcomes = await runAll(port, cases);
      allCases.push(...cases);
      allOutcomes.push(...outcomes);
    };

    const started = performance.now();
    const raw = () => drawn(nextSeed(), 1, (rng) => rawCases({ ...setting, rng }))[0]!;
    await run([...generate(setting, nextSeed(), WARMUP_CASES), ...raw()]);
    const sample = async () => {
      if (server.child.exitCode !== null || server.child.signalCode !== null) {
        throw new Error(`the service exited during the fuzz run (${server.child.exitCode ?? server.child.signalCode}):\n${server.output().slice(-3000)}`);
      }
      return sampleMemory(server.child.pid!, url);
    };
    const baseline = await sample();
    const samples = [baseline];
    for (let round = 0; round < BULK_ROUNDS; round++) {
      setting.now = Math.floor(Date.now() / 1000);
      await run([...generate(setting, nextSeed(), CASES_PER_ROUND), ...raw()]);
      samples.push(await sample());
    }
    const elapsedMs = performance.now() - started;

    // --- Every answer below 500, and of the expected kind.
    const failures: string[] = [];
    const histogram = new Map<string, number>();
    const okByFamily = new Map<string, number>();
    const signatureAccepts = new Map<string, number>();
    const aliasesServed = new Set<string>();
    const closedByFamily = new Map<string, number>();
    allCases.forEach((c, i) => {
      const outcome = allOutcomes[i]!;
      const key = outcome.status === 0 ? 'closed' : String(outcome.status);
      histogram.set(key, (histogram.get(key) ?? 0) + 1);
      const problem = violation(c, outcome) ?? leak(c, outcome, healthData);
      if (problem) {
        const what = c.kind === 'http' ? `${c.method} ${c.path.slice(0, 120)} ${JSON.stringify(c.body?.toString('latin1').slice(0, 80) ?? '')}` : JSON.stringify(c.bytes.toString('latin1').slice(0, 160));
        failures.push(`[${c.family}] ${problem}: ${what} → ${JSON.stringify(outcome.snippet.slice(0, 160))}`);
      }
      if (outcome.status === 0) closedByFamily.set(c.family, (closedByFamily.get(c.family) ?? 0) + 1);
      if (outcome.status === 200) {
        okByFamily.set(c.family, (okByFamily.get(c.family) ?? 0) + 1);
        if (c.kind === 'http' && c.family === 'slack:path-signed-help') aliasesServed.add(c.path);
        if (c.signatureKey) signatureAccepts.set(c.signatureKey, (signatureAccepts.get(c.signatureKey) ?? 0) + 1);
      }
    });
    const total = allCases.length;
    const statusLine = [...histogram.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([status, count]) => `${status}:${count}`).join(' ');
    console.log(
      `fuzz seed=0x${SEED.toString(16)} requests=${total} (${allCases.filter((c) => c.kind === 'raw').length} raw; ${spreadAddresses ? `from ${2 * ADDRESS_POOL + 1} loopback addresses` : 'from 127.0.0.1 only'}) in ${(elapsedMs / 1000).toFixed(1)} s; statuses ${statusLine}; ` +
        `200s by family ${JSON.stringify(Object.fromEntries(okByFamily))}; closed without an answer by family ${JSON.stringify(Object.fromEntries(closedByFamily))}; paths other than ${SLACK} served by the handler ${JSON.stringify([...aliasesServed].sort())}; ` +
        `service RSS ${samples.map((s) => mb(s.rss)).join(' → ')}, retained${gcAvailable ? ' after GC' : ' (no GC hook)'} ${samples.map((s) => mb(s.retained)).join(' → ')}; runs expected ${expectedRuns}`,
    );
    expect(failures, failures.slice(0, 25).join('\n')).toEqual([]);
    expect(total).toBeGreaterThan(5000);

    // One signature, one acceptance: a signed request sent twice is refused the second time.
    const acceptedTwice = [...signatureAccepts.entries()].filter(([, count]) => count > 1);
    expect(acceptedTwice, 'a correctly signed request was accepted more than once').toEqual([]);

    // The service is alive and well.
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
    expect((await fetch(`${url}/readyz`)).status).toBe(200);
    expect(server.child.exitCode).toBeNull();

    // Nothing reached WHOOP or Slack because of the fuzz run: no API call, no code exchange, no message.
    expect(whoop.stats.requests.map((r) => `${r.method} ${r.path}`)).toEqual([]);
    expect(whoop.stats.codeExchanges).toBe(0);
    expect(whoop.stats.refreshes).toBe(0);
    expect(slack.messages.length).toBe(messagesBefore);
    expect(slack.calls.length).toBe(callsBefore);

    // Memory stays flat.
    const final = samples[samples.length - 1]!;
    const growth = (key: 'rss' | 'retained') => {
      const [first, last] = [baseline[key], final[key]];
      return first === undefined || last === undefined ? undefined : last - first;
    };
    const retainedGrowth = growth('retained');
    const rssGrowth = growth('rss');
    if (gcAvailable && retainedGrowth !== undefined) {
      expect(retainedGrowth, `memory the service retains after a full GC grew by ${mb(retainedGrowth)}`).toBeLessThan(MAX_RETAINED_GROWTH_BYTES);
    } else if (rssGrowth !== undefined) {
      expect(rssGrowth, `service RSS grew by ${mb(rssGrowth)}`).toBeLessThan(MAX_RSS_GROWTH_BYTES);
    }

    // No 5xx was logged, and the process shuts down cleanly.
    const log = server.output();
    expect(log).not.toContain('"msg":"request failed"');
    expect(log).not.toMatch(/"level":(50|60)/);
    const exit = await server.stop('SIGTERM');
    expect(exit.code).toBe(0);

    // sync_runs holds exactly the runs of the legitimate phase.
    const db = await openDatabase({ databaseUrl: testDb.databaseUrl, dataDir: testDb.dataDir });
    try {
      const runs = await db.prisma.syncRun.findMany({ orderBy: { id: 'asc' } });
      expect(runs.map((r) => r.status)).toEqual(Array(expectedRuns).fill('succeeded'));
      expect(await db.prisma.oAuthState.count()).toBe(0);
    } finally {
      await db.close();
    }
  }, 120_000);
});

describe('replays with a re-cased signature', () => {
  let env: Environment;
  beforeAll(async () => {
    env = await startEnvironment({ days: 3 });
    expect((await env.connect()).status).toBe(200);
  });
  afterAll(async () => env?.close());

  it('refuses a replayed signed /sync whose signature differs only in letter case, and starts no second sync', async () => {
    const body = slashCommandBody('3');
    const headers = signedHeaders(body);
    const first = await fetch(`${env.app.url}${SLACK}`, { method: 'POST', headers, body });
    expect(first.status).toBe(200);
    await env.slack.waitForMessages(1);

    // Same bytes, same timestamp, same HMAC: only the hex digits' case differs. Slack never sends this;
    // a replayer can, in 2^(letters in the digest) spellings.
    const recased = headers['x-slack-signature'].replace(/[a-f]/g, (c) => c.toUpperCase());
    expect(recased).not.toBe(headers['x-slack-signature']);
    const replay = await fetch(`${env.app.url}${SLACK}`, { method: 'POST', headers: { ...headers, 'x-slack-signature': recased }, body });
    const text = await replay.text();
    await settled(env.app.app.db);
    const runs = await env.app.app.db.prisma.syncRun.count();
    expect({ status: replay.status, runs }, `the re-cased replay was answered ${replay.status} ${text}`).toEqual({ status: 401, runs: 1 });
  });
});
