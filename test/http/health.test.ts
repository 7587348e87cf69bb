import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/config.js';
import { startApp, testConfig, type RunningApp } from '../support/app.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy.js';

describe('health endpoints', () => {
  let testDb: TestDatabase;
  let running: RunningApp;
  beforeAll(async () => {
    testDb = await createTestDatabase();
    running = await startApp(testConfig(testDb));
  });
  afterAll(async () => {
    await running?.close();
    await testDb?.drop();
  });

  it('GET /healthz answers 200 while the process serves', async () => {
    const response = await fetch(`${running.url}/healthz`);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ status: 'ok' });
  });

  it('GET /readyz answers 200 when the database answers', async () => {
    const response = await fetch(`${running.url}/readyz`);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ status: 'ready' });
  });

  it('answers unknown routes and wrong methods with a 4xx that leaks nothing', async () => {
    const missing = await fetch(`${running.url}/nope?x=1`);
    expect(missing.status).toBe(404);
    expect(await missing.json()).toEqual({ error: 'Not Found', message: 'No such route.' });
    const wrongMethod = await fetch(`${running.url}/healthz`, { method: 'DELETE' });
    expect(wrongMethod.status).toBe(404);
    const malformed = await fetch(`${running.url}/healthz`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"broken',
    });
    expect(malformed.status).toBeGreaterThanOrEqual(400);
    expect(malformed.status).toBeLessThan(500);
  });

  it('shutting down closes the database', async () => {
    const otherDb = await createTestDatabase();
    try {
      const other = await startApp(testConfig(otherDb));
      const { db } = other.app;
      await expect(db.prisma.$queryRaw`SELECT 1`).resolves.toBeDefined();
      await other.close();
      await expect(db.prisma.$queryRaw`SELECT 1`).rejects.toThrow();
    } finally {
      await otherDb.drop();
    }
  });
});

describe('readiness when Postgres goes away', () => {
  let testDb: TestDatabase;
  let proxy: TcpProxy;
  let running: RunningApp;
  beforeAll(async () => {
    testDb = await createTestDatabase();
    const target = new URL(testDb.databaseUrl!);
    proxy = await startTcpProxy(target.hostname, Number(target.port || 5432));
    const viaProxy = new URL(testDb.databaseUrl!);
    viaProxy.host = `127.0.0.1:${proxy.port}`;
    running = await startApp(
      loadConfig({ LOG_LEVEL: 'silent', SYNC_SCHEDULES: 'off', DATABASE_URL: viaProxy.toString(), DATA_DIR: testDb.dataDir }),
    );
  });
  afterAll(async () => {
    await running?.close();
    await proxy?.close();
    await testDb?.drop();
  });

  it('turns /readyz to 503 while the database is unreachable and back to 200 when it returns', async () => {
    expect((await fetch(`${running.url}/readyz`)).status).toBe(200);
    await proxy.cut();
    const down = await fetch(`${running.url}/readyz`);
    expect(down.status).toBe(503);
    expect(await down.json()).toEqual({ status: 'database unavailable' });
    expect((await fetch(`${running.url}/healthz`)).status).toBe(200);
    await proxy.restore();
    await expect.poll(async () => (await fetch(`${running.url}/readyz`)).status, { timeout: 10_000 }).toBe(200);
  });
});
