// WHOOP tokens encrypted at rest (TOKEN_ENCRYPTION_KEY): the value format, tamper and row binding, what
// the database really holds, syncs with encryption on, the start-up migration of plaintext rows, and key
// rotation across restarts on the same database.
import { createDecipheriv, randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keyIdOf, TokenCipher, TokenDecryptionError } from '../../src/whoop/token-crypto.js';
import { startFakeWhoop, type FakeWhoop, type Member } from '../fakes/whoop-server.js';
import { startApp, testConfig, type RunningApp } from '../support/app.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { connect as connectMember, SIGNING_SECRET, startEnvironment, type Environment } from '../support/environment.js';

const NOT_CONFIGURED = (id: string) =>
  `token was encrypted with key ${id}, which is not configured (TOKEN_ENCRYPTION_KEY / TOKEN_ENCRYPTION_PREVIOUS_KEYS)`;

/** Flips one bit of the character at `index` of a base64url string, keeping it base64url. */
function flip(text: string, index: number): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
  const position = alphabet.indexOf(text[index]!);
  return text.slice(0, index) + alphabet[position ^ 1] + text.slice(index + 1);
}

/** Replaces one `:`-separated field of an encrypted value. */
function withField(value: string, field: number, change: (text: string) => string): string {
  const parts = value.split(':');
  parts[field] = change(parts[field]!);
  return parts.join(':');
}

describe('token encryption (AES-256-GCM)', () => {
  const keyA = randomBytes(32);
  const keyB = randomBytes(32);
  const cipher = new TokenCipher({ key: keyA, previousKeys: [] });
  const token = 'whoop-access-token-0123456789abcdef';

  it('round-trips, in the documented format, with a fresh IV each time', () => {
    const sealed = cipher.encrypt(token, 42n, 'access_token');
    const [prefix, version, id, iv, ciphertext, tag, ...rest] = sealed.split(':');
    expect([prefix, version, id, rest]).toEqual(['enc', 'v1', keyIdOf(keyA), []]);
    expect(keyIdOf(keyA)).toMatch(/^[0-9a-f]{8}$/);
    expect(Buffer.from(iv!, 'base64url')).toHaveLength(12);
    expect(Buffer.from(tag!, 'base64url')).toHaveLength(16);
    expect(sealed).not.toContain(token);
    expect(cipher.decrypt(sealed, 42n, 'access_token')).toBe(token);
    expect(cipher.encrypt(token, 42n, 'access_token')).not.toBe(sealed);

    // Plain AES-256-GCM with AAD `whoop_tokens:<user_id>:<column>`: readable with nothing but node:crypto.
    const decipher = createDecipheriv('aes-256-gcm', keyA, Buffer.from(iv!, 'base64url'));
    decipher.setAAD(Buffer.from('whoop_tokens:42:access_token'));
    decipher.setAuthTag(Buffer.from(tag!, 'base64url'));
    expect(Buffer.concat([decipher.update(Buffer.from(ciphertext!, 'base64url')), decipher.final()]).toString()).toBe(token);
  });

  it('reads plaintext (stored before encryption was enabled) as it is, and writes plaintext without a key', () => {
    expect(cipher.decrypt(token, 42n, 'refresh_token')).toBe(token);
    expect(cipher.state(token)).toBe('plaintext');
    const none = new TokenCipher({ previousKeys: [] });
    expect(none.enabled).toBe(false);
    expect(none.seal(token, 42n, 'access_token')).toBe(token);
    expect(cipher.seal(token, 42n, 'access_token')).toMatch(/^enc:v1:/);
  });

  it('detects any altered byte, with a clear error', () => {
    const sealed = cipher.encrypt(token, 42n, 'access_token');
    for (const field of [3, 4, 5]) {
      for (const index of [0, 5]) {
        const altered = withField(sealed, field, (text) => flip(text, index));
        expect(() => cipher.decrypt(altered, 42n, 'access_token')).toThrow(TokenDecryptionError);
        expect(() => cipher.decrypt(altered, 42n, 'access_token')).toThrow(
          `Cannot decrypt the stored WHOOP access_token of account 42: token failed authentication with key ${keyIdOf(keyA)}: ` +
            'the stored value was altered, or copied from another account or column',
        );
      }
    }
    expect(() => cipher.decrypt(withField(sealed, 5, (tag) => tag.slice(0, 10)), 42n, 'access_token')).toThrow(/not a well-formed enc:v1 value/);
    expect(() => cipher.decrypt(sealed.split(':').slice(0, 5).join(':'), 42n, 'access_token')).toThrow(/not a well-formed enc:v1 value/);
    expect(() => cipher.decrypt(sealed.replace('enc:v1:', 'enc:v9:'), 42n, 'access_token')).toThrow(/format v9, which this version of whoop-sync does not read/);
  });

  it('binds a value to its account and column', () => {
    const sealed = cipher.encrypt(token, 42n, 'access_token');
    expect(() => cipher.decrypt(sealed, 43n, 'access_token')).toThrow(/account 43: token failed authentication/);
    expect(() => cipher.decrypt(sealed, 42n, 'refresh_token')).toThrow(/refresh_token of account 42: token failed authentication/);
  });

  it('picks the key by its id: previous keys decrypt, a key that is not configured is named', () => {
    const underA = cipher.encrypt(token, 7n, 'refresh_token');
    const rotated = new TokenCipher({ key: keyB, previousKeys: [keyA] });
    expect(rotated.state(underA)).toBe('previous');
    expect(rotated.decrypt(underA, 7n, 'refresh_token')).toBe(token);
    const underB = rotated.encrypt(token, 7n, 'refresh_token');
    expect(rotated.state(underB)).toBe('current');
    expect(cipher.state(underB)).toBe('unknown-key');
    expect(() => cipher.decrypt(underB, 7n, 'refresh_token')).toThrow(NOT_CONFIGURED(keyIdOf(keyB)));
    expect(() => new TokenCipher({ previousKeys: [] }).decrypt(underB, 7n, 'refresh_token')).toThrow(NOT_CONFIGURED(keyIdOf(keyB)));
    expect(() => new TokenCipher({ key: randomBytes(16), previousKeys: [] })).toThrow(RangeError);
  });
});

type RawToken = { access_token: string; refresh_token: string | null };

async function rawToken(app: FastifyInstance, userId: bigint): Promise<RawToken> {
  const rows = await app.db.prisma.$queryRaw<RawToken[]>`SELECT access_token, refresh_token FROM whoop_tokens WHERE user_id = ${userId}`;
  expect(rows).toHaveLength(1);
  return rows[0]!;
}

/** The raw columns are encrypted under `key` and do not contain the tokens the app reads from them. */
async function expectEncrypted(app: FastifyInstance, userId: bigint, key: Buffer): Promise<RawToken> {
  const raw = await rawToken(app, userId);
  const token = (await app.whoop.tokens.get(userId))!;
  expect(token.accessToken).not.toMatch(/^enc:/);
  expect(token.refreshToken).toBeTruthy();
  expect(raw.access_token.startsWith(`enc:v1:${keyIdOf(key)}:`)).toBe(true);
  expect(raw.refresh_token!.startsWith(`enc:v1:${keyIdOf(key)}:`)).toBe(true);
  for (const value of [raw.access_token, raw.refresh_token!]) {
    expect(value).not.toContain(token.accessToken);
    expect(value).not.toContain(token.refreshToken);
  }
  return raw;
}

const syncOnce = (app: FastifyInstance, days = 1) => app.sync.syncAll({ days, trigger: 'cli', requestedBy: 'test' });

describe('stored WHOOP tokens with TOKEN_ENCRYPTION_KEY set', () => {
  const key = randomBytes(32);
  let env: Environment;
  let userId: bigint;
  const app = () => env.app.app;

  beforeAll(async () => {
    env = await startEnvironment({ days: 5, env: { TOKEN_ENCRYPTION_KEY: key.toString('base64') } });
    expect((await env.connect()).status).toBe(200);
    userId = BigInt(env.member.user_id);
  });
  afterAll(async () => env?.close());

  it('stores the connected grant encrypted, never as plaintext', async () => {
    const raw = await expectEncrypted(app(), userId, key);
    // Both columns of the row, and no other row, decrypt them.
    expect(raw.access_token).not.toBe(raw.refresh_token);
  });

  it('syncs, refreshing an expired access token, and stores the new pair encrypted', async () => {
    const before = await app().whoop.tokens.get(userId);
    expect((await syncOnce(app())).status).toBe('succeeded');
    expect(env.whoop.stats.refreshes).toBe(0);

    env.whoop.expireAccessTokens();
    const outcome = await syncOnce(app(), 3);
    expect(outcome.error).toBeUndefined();
    expect(outcome.status).toBe('succeeded');
    expect(env.whoop.stats.refreshes).toBe(1);
    expect(env.whoop.stats.invalidGrants).toBe(0);
    const after = await app().whoop.tokens.get(userId);
    expect(after!.accessToken).not.toBe(before!.accessToken);
    expect(after!.refreshToken).not.toBe(before!.refreshToken);
    await expectEncrypted(app(), userId, key);
    // The refreshed pair works as stored.
    expect((await syncOnce(app())).status).toBe('succeeded');
    expect(env.whoop.stats.refreshes).toBe(1);
  });

  it('refuses an altered stored token, or one moved to another account, with a clear error', async () => {
    const other = env.whoop.addMember({ first_name: 'Alex' });
    const otherId = BigInt(other.user_id);
    expect((await env.connect(other)).status).toBe(200);
    const ours = await rawToken(app(), userId);

    // Altered in place: the GCM tag no longer matches.
    const altered = withField(ours.access_token, 4, (text) => flip(text, 3));
    await app().db.prisma.$executeRaw`UPDATE whoop_tokens SET access_token = ${altered} WHERE user_id = ${userId}`;
    app().whoop.guard.forget(userId); // as every sync run does first
    await expect(app().whoop.guard.ensureTokenFresh(userId)).rejects.toThrow(
      `Cannot decrypt the stored WHOOP access_token of account ${userId}: token failed authentication with key ${keyIdOf(key)}`,
    );
    await app().db.prisma.$executeRaw`UPDATE whoop_tokens SET access_token = ${ours.access_token} WHERE user_id = ${userId}`;
    expect(await app().whoop.guard.ensureTokenFresh(userId)).toBe((await app().whoop.tokens.get(userId))!.accessToken);

    // Our valid ciphertexts copied into the other member's row: bound to our row, they do not decrypt there.
    await app().db.prisma.$executeRaw`
      UPDATE whoop_tokens SET access_token = ${ours.access_token}, refresh_token = ${ours.refresh_token} WHERE user_id = ${otherId}`;
    app().whoop.guard.forget(otherId);
    await expect(app().whoop.guard.ensureTokenFresh(otherId)).rejects.toThrow(
      `Cannot decrypt the stored WHOOP access_token of account ${otherId}: token failed authentication`,
    );
    const outcome = await syncOnce(app());
    expect(outcome.status).toBe('failed');
    expect(outcome.error).toContain(`account ${otherId}: token failed authentication`);
    // Reconnecting stores a fresh grant and fixes it.
    expect((await env.connect(other)).status).toBe(200);
    expect((await syncOnce(app())).status).toBe('succeeded');
    await expectEncrypted(app(), otherId, key);
  });

  it('a replica starting with a new key waits for a refresh in progress elsewhere, then re-encrypts the new pair', async () => {
    const newKey = randomBytes(32);
    await app().db.prisma.whoopToken.update({ where: { userId }, data: { expiresAt: new Date() } });
    app().whoop.guard.forget(userId);
    env.whoop.resetStats();
    env.whoop.slowNext(1, 1500); // the refresh request
    const refreshing = app().whoop.guard.ensureTokenFresh(userId);
    const deadline = Date.now() + 5000;
    while (!env.whoop.stats.requests.some((r) => r.path.endsWith('/token') && r.status === 0) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    const other = await env.startAnotherApp({ TOKEN_ENCRYPTION_KEY: newKey.toString('base64'), TOKEN_ENCRYPTION_PREVIOUS_KEYS: key.toString('base64') });
    const fresh = await refreshing;
    // The start-up migration ran after the refresh stored its pair: that pair, not the one it replaced, is now
    // under the new key.
    await expectEncrypted(other.app, userId, newKey);
    expect((await other.app.whoop.tokens.get(userId))!.accessToken).toBe(fresh);
    expect(env.whoop.stats.refreshes).toBe(1);
    expect(env.whoop.stats.invalidGrants).toBe(0);
    // The replica with the new key becomes the worker (the old one cannot read the new pair) and syncs.
    await app().worker.stop(5_000);
    await app().worker.release();
    expect((await syncOnce(other.app)).status).toBe('succeeded');
  });
});

// Several apps, one after the other, on one database.
describe('turning encryption on, and rotating the key, across restarts', () => {
  let db: TestDatabase;
  let whoop: FakeWhoop;
  let member: Member;
  let userId: bigint;
  let running: RunningApp | undefined;
  let logs: { level: number; msg: string; [field: string]: unknown }[] = [];

  /** Starts the app on the shared database with these encryption settings, after closing the previous one. */
  async function restart(encryption: {
    TOKEN_ENCRYPTION_KEY?: string;
    TOKEN_ENCRYPTION_PREVIOUS_KEYS?: string;
  }): Promise<FastifyInstance> {
    await running?.close();
    running = undefined;
    logs = [];
    const env = {
      WHOOP_API_URL: whoop.url,
      WHOOP_CLIENT_ID: whoop.clientId,
      WHOOP_CLIENT_SECRET: whoop.clientSecret,
      SLACK_SIGNING_SECRET: SIGNING_SECRET,
      ...encryption,
    };
    running = await startApp(testConfig(db, env), {
      logger: { level: 'info', stream: { write: (line: string) => void logs.push(JSON.parse(line)) } },
    });
    return running.app;
  }

  async function connect(): Promise<void> {
    expect((await connectMember(running!.url, whoop, member)).status).toBe(200);
  }

  const logged = (pattern: RegExp) => logs.filter((line) => pattern.test(line.msg));

  beforeAll(async () => {
    db = await createTestDatabase();
    whoop = await startFakeWhoop();
    member = whoop.addMember({ first_name: 'Robin' });
    whoop.generate(member.user_id, { days: 3 });
    userId = BigInt(member.user_id);
  });
  afterAll(async () => {
    await running?.close();
    await whoop?.close();
    await db?.drop();
  });

  it('encrypts the plaintext rows of an earlier version at the next start, and syncs on', { timeout: 120_000 }, async () => {
    const keyA = randomBytes(32);
    let app = await restart({});
    await connect();
    const plain = await rawToken(app, userId);
    expect(plain.access_token).not.toMatch(/^enc:/);
    expect(plain.refresh_token).not.toMatch(/^enc:/);
    expect(logged(/token/)).toEqual([]);

    app = await restart({ TOKEN_ENCRYPTION_KEY: keyA.toString('hex') });
    expect(logged(/^encrypted 2 stored WHOOP token\(s\)$/)).toHaveLength(1);
    await expectEncrypted(app, userId, keyA);
    const token = (await app.whoop.tokens.get(userId))!;
    expect([token.accessToken, token.refreshToken]).toEqual([plain.access_token, plain.refresh_token]);
    whoop.resetStats();
    expect((await syncOnce(app)).status).toBe('succeeded');
    expect(whoop.stats.refreshes).toBe(0);
    whoop.expireAccessTokens();
    expect((await syncOnce(app)).status).toBe('succeeded');
    expect(whoop.stats.refreshes).toBe(1);
    await expectEncrypted(app, userId, keyA);

    // Another start with the same key has nothing to do.
    const before = await rawToken(app, userId);
    app = await restart({ TOKEN_ENCRYPTION_KEY: keyA.toString('base64') });
    expect(logged(/^(re-)?encrypted \d+/)).toEqual([]);
    expect(await rawToken(app, userId)).toEqual(before);

    // Without the key the service still starts, says why, and syncs fail naming the key.
    app = await restart({});
    expect(logged(/^2 stored WHOOP token\(s\) are encrypted, but TOKEN_ENCRYPTION_KEY is not set/)).toHaveLength(1);
    expect(logged(/are encrypted, but/)[0]!.level).toBe(50);
    const outcome = await syncOnce(app);
    expect(outcome.status).toBe('failed');
    expect(outcome.error).toBe(`Cannot decrypt the stored WHOOP access_token of account ${userId}: ${NOT_CONFIGURED(keyIdOf(keyA))}`);
    expect(await rawToken(app, userId)).toEqual(before);
  });

  it('rotates: new key plus the old one as previous re-encrypts every row; then the old key can go', { timeout: 120_000 }, async () => {
    const keyA = randomBytes(32);
    const keyB = randomBytes(32);
    let app = await restart({ TOKEN_ENCRYPTION_KEY: keyA.toString('base64') });
    await connect();
    await expectEncrypted(app, userId, keyA);
    const pair = async () => {
      const { accessToken, refreshToken } = (await app.whoop.tokens.get(userId))!;
      return { accessToken, refreshToken };
    };
    const tokens = await pair();

    app = await restart({ TOKEN_ENCRYPTION_KEY: keyB.toString('base64'), TOKEN_ENCRYPTION_PREVIOUS_KEYS: keyA.toString('base64') });
    expect(logged(/^re-encrypted 2 token\(s\) with the current key$/)).toHaveLength(1);
    await expectEncrypted(app, userId, keyB);
    expect(await pair()).toEqual(tokens);

    app = await restart({ TOKEN_ENCRYPTION_KEY: keyB.toString('base64') });
    expect(logged(/^(re-)?encrypted \d+|cannot be decrypted/)).toEqual([]);
    whoop.resetStats();
    expect((await syncOnce(app)).status).toBe('succeeded');
    whoop.expireAccessTokens();
    expect((await syncOnce(app)).status).toBe('succeeded');
    expect(whoop.stats.refreshes).toBe(1);
    await expectEncrypted(app, userId, keyB);
    const underB = await rawToken(app, userId);

    // Back to the old key alone: the rows are under B, which it does not know.
    app = await restart({ TOKEN_ENCRYPTION_KEY: keyA.toString('base64') });
    const [problem] = logged(/cannot be decrypted with the configured keys/);
    expect(problem?.level).toBe(50);
    expect(problem?.problems).toEqual([
      `Cannot decrypt the stored WHOOP access_token of account ${userId}: ${NOT_CONFIGURED(keyIdOf(keyB))}`,
      `Cannot decrypt the stored WHOOP refresh_token of account ${userId}: ${NOT_CONFIGURED(keyIdOf(keyB))}`,
    ]);
    const outcome = await syncOnce(app);
    expect(outcome.status).toBe('failed');
    expect(outcome.error).toContain(NOT_CONFIGURED(keyIdOf(keyB)));
    expect(whoop.stats.refreshes).toBe(1);
    expect(await rawToken(app, userId)).toEqual(underB);
  });
});
