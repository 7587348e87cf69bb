// Database.query()/execute()/transaction(), the driver-level statements of the hot paths (recording a
// /sync, writing a sync's pages), on the pool's several connections.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, type Database } from '../../src/db/database.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';

describe('driver statements', () => {
  let testDb: TestDatabase;
  let db: Database;

  beforeAll(async () => {
    testDb = await createTestDatabase();
    db = await openDatabase(testDb);
    await db.execute('CREATE TABLE statement_check (id serial PRIMARY KEY, label text UNIQUE NOT NULL)');
  });
  afterAll(async () => {
    await db?.close();
    await testDb?.drop();
  });

  it('passes text, numbers, booleans and null as parameters and parses the columns by type', async () => {
    const at = new Date('2026-03-01T12:34:56.789Z');
    const hostile = `x'); DROP TABLE statement_check; -- \\ ü 😀`;
    const [row] = await db.query<Record<string, unknown>>(
      'SELECT $1::int AS n, $2::text AS t, $3::timestamptz AS at, $4::text AS missing, $5::bool AS flag, $6::jsonb AS doc, $7::float8 AS f',
      [7, hostile, at.toISOString(), null, true, '{"a":[1,2]}', 1.5],
    );
    expect(row).toEqual({ n: 7, t: hostile, at, missing: null, flag: true, doc: { a: [1, 2] }, f: 1.5 });
    expect(await db.query('SELECT 1 AS one WHERE false')).toEqual([]);
  });

  it('counts the rows an INSERT, UPDATE or DELETE affected', async () => {
    expect(await db.execute("INSERT INTO statement_check (label) VALUES ($1), ($2), ('c')", ['a', 'b'])).toBe(3);
    expect(await db.execute('UPDATE statement_check SET label = label || $1 WHERE label <> $2', ['!', 'c'])).toBe(2);
    expect(await db.execute('DELETE FROM statement_check WHERE label = $1', ['nothing'])).toBe(0);
    const rows = await db.query<{ id: number; label: string }>('INSERT INTO statement_check (label) VALUES ($1) RETURNING id, label', ['d']);
    expect(rows).toEqual([{ id: expect.any(Number), label: 'd' }]);
  });

  it('rejects a failing statement with Postgres’ message, and the next statement works', async () => {
    await expect(db.execute('INSERT INTO statement_check (label) VALUES ($1)', ['d'])).rejects.toThrow(/duplicate key value/);
    await expect(db.query('SELECT $1::int AS n', ['not a number'])).rejects.toThrow(/invalid input syntax for type integer/);
    expect(await db.query('SELECT count(*)::int AS n FROM statement_check')).toEqual([{ n: 4 }]);
  });

  it('takes arrays as parameters too', async () => {
    const rows = await db.query<{ label: string; position: number }>(
      'SELECT label, position::int FROM unnest($1::text[]) WITH ORDINALITY AS t(label, position) ORDER BY position',
      [['x', "y'z", 'ü']],
    );
    expect(rows).toEqual([
      { label: 'x', position: 1 },
      { label: "y'z", position: 2 },
      { label: 'ü', position: 3 },
    ]);
  });

  it('never runs inside another caller’s open transaction', async () => {
    let insideTransaction!: () => void;
    const entered = new Promise<void>((resolve) => (insideTransaction = resolve));
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const rolledBack = db
      .transaction(async (session) => {
        await session.query("INSERT INTO statement_check (label) VALUES ('in the transaction')");
        insideTransaction();
        await held;
        throw new Error('roll back');
      })
      .catch((error: Error) => error.message);
    await entered;
    // Issued while the transaction is open, on another connection: it must not join it.
    const outside = db.execute("INSERT INTO statement_check (label) VALUES ('outside')");
    await new Promise((resolve) => setTimeout(resolve, 50));
    release();
    expect(await rolledBack).toBe('roll back');
    expect(await outside).toBe(1);
    const labels = (await db.query<{ label: string }>('SELECT label FROM statement_check ORDER BY id')).map((row) => row.label);
    expect(labels).toContain('outside');
    expect(labels).not.toContain('in the transaction');
  });

  it('runs the same statement many times with different parameters, and again after its plan was dropped', async () => {
    const sql = 'SELECT $1::int * 2 AS doubled, $2::text AS label';
    for (let i = 0; i < 20; i++) expect(await db.query(sql, [i, `n${i}`])).toEqual([{ doubled: i * 2, label: `n${i}` }]);
    // DEALLOCATE ALL drops every prepared statement of the session.
    await db.execute('DEALLOCATE ALL');
    expect(await db.query(sql, [21, 'after'])).toEqual([{ doubled: 42, label: 'after' }]);
  });

  it('recovers from a statement that failed on its first run', async () => {
    await expect(db.query('SELEC 1 AS broken')).rejects.toThrow(/syntax error/);
    const sql = 'SELECT 10 / $1::int AS quotient';
    await expect(db.query(sql, [0])).rejects.toThrow(/division by zero/);
    expect(await db.query(sql, [5])).toEqual([{ quotient: 2 }]);
    expect(await db.query(sql, [2])).toEqual([{ quotient: 5 }]);
  });
});
