// The embedded database's answers, read at the wire-protocol level (src/db/pglite-exchange.ts): every
// statement the service runs on PGlite goes through here, for as long as the service runs, so nothing of
// it may stay behind in memory.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exchange } from '../../src/db/pglite-exchange.js';
import { collectGarbage } from '../support/garbage.js';

function query(sql: string): Uint8Array {
  const text = Buffer.from(`${sql}\0`);
  const message = Buffer.alloc(5 + text.length);
  message[0] = 0x51; // 'Q'
  message.writeInt32BE(4 + text.length, 1);
  text.copy(message, 5);
  return message;
}

/** The answer's messages as [type, body] pairs. */
function messages(answer: Uint8Array): Array<[string, string]> {
  const bytes = Buffer.from(answer.buffer, answer.byteOffset, answer.byteLength);
  const found: Array<[string, string]> = [];
  for (let at = 0; at < bytes.length; ) {
    const length = bytes.readInt32BE(at + 1);
    found.push([String.fromCharCode(bytes[at]!), bytes.toString('latin1', at + 5, at + 1 + length)]);
    at += 1 + length;
  }
  return found;
}

describe('PGlite exchanges', () => {
  let dataDir: string;
  let db: PGlite;

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'whoop-sync-exchange-'));
    db = await PGlite.create(dataDir);
    await db.exec('CREATE TABLE exchange_check (id serial PRIMARY KEY, label text NOT NULL)');
  });
  afterAll(async () => {
    await db?.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('returns the complete answer, in a buffer of its own', async () => {
    const answer = await exchange(db, query("INSERT INTO exchange_check (label) VALUES ('a'), ('b') RETURNING id; SELECT 1/0"));
    expect(answer.byteOffset).toBe(0);
    expect(answer.byteLength).toBe(answer.buffer.byteLength);
    const found = messages(answer);
    expect(found.map(([type]) => type)).toEqual(['T', 'D', 'D', 'C', 'E', 'Z']);
    expect(found[3]![1]).toBe('INSERT 0 2\0');
    expect(found[4]![1]).toContain('division by zero');
    expect(found.at(-1)![1]).toBe('I');
  });

  it('keeps nothing of what it ran: 20,000 statements leave the heap as it was', async () => {
    const run = async (count: number) => {
      for (let i = 0; i < count; i++) await exchange(db, query(`INSERT INTO exchange_check (label) VALUES ('row ${i}') RETURNING id`));
    };
    await run(2_000);
    collectGarbage();
    const before = process.memoryUsage().heapUsed;
    await run(20_000);
    collectGarbage();
    const grown = process.memoryUsage().heapUsed - before;
    // PGlite's execProtocolRaw() keeps about 0.5 KB per statement: 10 MB here.
    expect(grown).toBeLessThan(2 * 1024 * 1024);
  }, 120_000);
});
