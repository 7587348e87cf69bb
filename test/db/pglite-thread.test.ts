// The embedded database's thread (src/db/pglite-host.ts, src/db/pglite-thread.ts), driven by real `pg`
// clients the way the service's pool drives it. Several connections share PGlite's one Postgres session:
// each must get its own answers, never see another's open transaction, and never leave the session
// stuck when it goes away in the middle of one.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPgliteThread, type PgliteThread } from '../../src/db/pglite-thread.js';

describe('embedded database thread', () => {
  let dataDir: string;
  let thread: PgliteThread;
  const clients: pg.Client[] = [];

  async function connect(): Promise<pg.Client> {
    const client = new pg.Client({ stream: () => thread.connect(), user: 'postgres', database: 'postgres', host: 'pglite', ssl: false });
    client.on('error', () => {});
    await client.connect();
    clients.push(client);
    return client;
  }

  const count = async (client: pg.Client) => (await client.query<{ n: number }>('SELECT count(*)::int AS n FROM thread_check')).rows[0]!.n;

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'whoop-sync-thread-'));
    thread = await startPgliteThread(dataDir);
    const setup = await connect();
    await setup.query('CREATE TABLE thread_check (id serial PRIMARY KEY, label text NOT NULL)');
  });
  afterAll(async () => {
    await Promise.all(clients.map((client) => client.end().catch(() => {})));
    await thread?.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('answers each of many connections its own statements while they all run at once', async () => {
    const connections = await Promise.all([1, 2, 3, 4].map(() => connect()));
    // One query at a time per connection (as the pool uses them), the four connections side by side.
    const answers = await Promise.all(
      connections.map(async (client, c) => {
        const values: string[] = [];
        for (let i = 0; i < 100; i++) values.push((await client.query<{ v: string }>('SELECT $1::text || $2::text AS v', [`c${c}-`, `${i}`])).rows[0]!.v);
        return values;
      }),
    );
    expect(answers).toEqual(connections.map((_, c) => Array.from({ length: 100 }, (_, i) => `c${c}-${i}`)));
  });

  it('answers a repeated statement message for message as it answered its first run', async () => {
    // The host prepares each statement text once and reuses it (src/db/pglite-host.ts): invisible to the
    // client, which still sees the ParseComplete of the Parse it sent.
    const client = await connect();
    const seen: string[] = [];
    const connection = (client as unknown as { connection: NodeJS.EventEmitter }).connection;
    const record = (name: string) => () => seen.push(name);
    for (const name of ['parseComplete', 'bindComplete', 'rowDescription', 'dataRow', 'commandComplete', 'readyForQuery']) connection.on(name, record(name));
    const runs = [];
    for (let i = 0; i < 3; i++) {
      seen.length = 0;
      runs.push({ rows: (await client.query('SELECT $1::int * 3 AS tripled', [i])).rows, messages: [...seen] });
    }
    expect(runs.map((run) => run.rows)).toEqual([[{ tripled: 0 }], [{ tripled: 3 }], [{ tripled: 6 }]]);
    for (const run of runs) expect(run.messages).toEqual(['parseComplete', 'bindComplete', 'rowDescription', 'dataRow', 'commandComplete', 'readyForQuery']);
  });

  it('keeps one connection’s open transaction from the others until it commits', async () => {
    const [writer, reader] = await Promise.all([connect(), connect()]);
    const before = await count(reader);
    await writer.query('BEGIN');
    await writer.query("INSERT INTO thread_check (label) VALUES ('committed')");
    let answered = false;
    const read = count(reader).then((n) => ((answered = true), n));
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(answered).toBe(false); // waiting for the transaction, not reading inside it
    await writer.query('COMMIT');
    expect(await read).toBe(before + 1);
  });

  it('rolls back the transaction of a connection that ends without committing, and the others go on', async () => {
    const [leaving, staying] = await Promise.all([connect(), connect()]);
    const before = await count(staying);
    await leaving.query('BEGIN');
    await leaving.query("INSERT INTO thread_check (label) VALUES ('never committed')");
    const waiting = count(staying);
    await leaving.end();
    expect(await waiting).toBe(before);
  });

  it('rolls back for a connection that drops mid-transaction without a goodbye, even after a failed statement', async () => {
    const [dropping, staying] = await Promise.all([connect(), connect()]);
    const before = await count(staying);
    await dropping.query('BEGIN');
    await dropping.query("INSERT INTO thread_check (label) VALUES ('dropped')");
    await expect(dropping.query('SELECT $1::int', ['not a number'])).rejects.toThrow(/invalid input syntax/);
    const waiting = count(staying);
    // The socket-like stream goes away as a killed client's socket would: no Terminate message.
    (dropping as unknown as { connection: { stream: { destroy(): void } } }).connection.stream.destroy();
    expect(await waiting).toBe(before);
    expect((await staying.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
  });

  it('keeps a failed statement on one connection from affecting another', async () => {
    const [failing, other] = await Promise.all([connect(), connect()]);
    const [failed, answered] = await Promise.allSettled([failing.query('SELECT 1/0'), other.query('SELECT 2 AS two')]);
    expect(failed.status).toBe('rejected');
    expect((answered as PromiseFulfilledResult<pg.QueryResult>).value.rows).toEqual([{ two: 2 }]);
    expect((await failing.query('SELECT 3 AS three')).rows).toEqual([{ three: 3 }]);
  });

  it('refuses to start on a data directory it cannot use, with PGlite’s reason', async () => {
    const file = join(dataDir, 'not-a-directory');
    await writeFile(file, 'x');
    await expect(startPgliteThread(file)).rejects.toThrow(/.+/);
  });

  it('after close, fails new connections and waiting queries with a clear error instead of hanging', async () => {
    const other = await mkdtemp(join(tmpdir(), 'whoop-sync-thread-'));
    try {
      const closing = await startPgliteThread(other);
      const client = new pg.Client({ stream: () => closing.connect(), user: 'postgres', database: 'postgres', host: 'pglite', ssl: false });
      client.on('error', () => {});
      await client.connect();
      await closing.close();
      await expect(client.query('SELECT 1')).rejects.toThrow();
      const late = new pg.Client({ stream: () => closing.connect(), user: 'postgres', database: 'postgres', host: 'pglite', ssl: false });
      await expect(late.connect()).rejects.toThrow(/embedded database is closed/);
    } finally {
      await rm(other, { recursive: true, force: true });
    }
  });
});
