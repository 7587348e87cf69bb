// `npm run connect` as a person on a machine without a browser runs it: a separate process configured by its
// environment, the authorization URL approved "in another browser" (the fake WHOOP's approve helper), and
// the address that browser ended on pasted into the process's stdin.
import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/db/database.js';
import { startFakeWhoop, type FakeWhoop, type Member } from '../fakes/whoop-server.js';
import { CONNECT_CLI_ENTRY } from '../support/compiled.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { fakesEnv } from '../support/environment.js';

interface Connect {
  /** Resolves with the authorization URL once it is printed. */
  authorizeUrl: Promise<string>;
  paste(line: string): void;
  done: Promise<{ code: number | null; stdout: string; stderr: string }>;
}

function startConnect(env: Record<string, string>): Connect {
  const child = spawn(process.execPath, [CONNECT_CLI_ENTRY], {
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  let found: (url: string) => void;
  const authorizeUrl = new Promise<string>((resolve) => (found = resolve));
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
    const match = /^ {3}(http\S+\/oauth\/oauth2\/auth\?\S+)$/m.exec(stdout);
    if (match) found(match[1]!);
  });
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const done = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) =>
    child.on('exit', (code) => resolve({ code, stdout, stderr })),
  );
  return { authorizeUrl, paste: (line) => child.stdin.end(`${line}\n`), done };
}

describe('npm run connect: connecting without a browser on the server', () => {
  let whoop: FakeWhoop;
  let member: Member;
  let testDb: TestDatabase;
  let env: Record<string, string>;

  beforeAll(async () => {
    whoop = await startFakeWhoop();
    member = whoop.addMember({ first_name: 'Nas', last_name: 'Owner', email: 'nas@example.com' });
    testDb = await createTestDatabase();
    // A home server's PUBLIC_URL: nothing listens there, the browser's page fails to load.
    env = { ...testDb.env, ...fakesEnv(whoop), PUBLIC_URL: 'http://nas.invalid:3000' };
  });
  afterAll(async () => {
    await whoop?.close();
    await testDb?.drop();
  });

  it('prints the authorization URL; the pasted address connects the account and stores the grant as the callback does', async () => {
    const connect = startConnect(env);
    const url = new URL(await connect.authorizeUrl);
    expect(url.searchParams.get('redirect_uri')).toBe('http://nas.invalid:3000/oauth/whoop/callback');
    const landed = await whoop.approve(url.toString(), member.user_id);
    expect(landed).toMatch(/^http:\/\/nas\.invalid:3000\/oauth\/whoop\/callback\?code=/);
    connect.paste(`  ${landed}  `);
    const { code, stdout, stderr } = await connect.done;
    expect(stderr).toBe('');
    expect(stdout).toContain(`✅ Connected as Nas Owner (WHOOP member ${member.user_id}). whoop-sync keeps their data in sync.`);
    expect(code).toBe(0);
    expect(whoop.stats.codeExchanges).toBe(1);

    const db = await openDatabase(testDb);
    try {
      const user = await db.prisma.whoopUser.findUniqueOrThrow({
        where: { userId: BigInt(member.user_id) },
        include: { token: true },
      });
      expect(user.email).toBe('nas@example.com');
      expect(user.token?.status).toBe('active');
      expect(user.token?.refreshToken).toBeTruthy();
      expect(user.token!.expiresAt.getTime()).toBeGreaterThan(Date.now() + 50 * 60_000);
      // Its state was spent: the same address cannot connect twice.
      expect(await db.prisma.oAuthState.count()).toBe(0);
    } finally {
      await db.close();
    }
  });

  it('refuses an address of another run (or a replay) without calling WHOOP, and says what to do', async () => {
    const first = startConnect(env);
    const landed = await whoop.approve(await first.authorizeUrl, member.user_id);
    first.paste(landed);
    expect((await first.done).code).toBe(0);
    const exchanges = whoop.stats.codeExchanges;

    const second = startConnect(env);
    await second.authorizeUrl;
    second.paste(landed);
    const { code, stderr } = await second.done;
    expect(stderr).toContain('❌ connect: that address is not from this run, or its 15 minutes are over: run npm run connect again');
    expect(code).toBe(1);
    expect(whoop.stats.codeExchanges).toBe(exchanges);
  });

  it('says WHOOP\'s reason when access was denied, and what to paste when the address carries no code', async () => {
    const denied = startConnect(env);
    const url = new URL(await denied.authorizeUrl);
    denied.paste(`http://nas.invalid:3000/oauth/whoop/callback?error=access_denied&error_description=The+user+denied&state=${url.searchParams.get('state')}`);
    expect((await denied.done).stderr).toContain('❌ connect: WHOOP did not authorize the connection: The user denied');

    const empty = startConnect(env);
    const state = new URL(await empty.authorizeUrl).searchParams.get('state');
    empty.paste(`state=${state}`);
    expect((await empty.done).stderr).toContain('that address carries no authorization code: paste the whole address, including ?code=…');
  });

  it('refuses to start without WHOOP credentials, in one line', async () => {
    const connect = startConnect({ ...testDb.env });
    const { code, stderr } = await connect.done;
    expect(stderr.trim()).toBe('connect: WHOOP is not configured: set WHOOP_CLIENT_ID and WHOOP_CLIENT_SECRET (see the README, "WHOOP: connecting your account").');
    expect(code).toBe(1);
  });
});
