// Prepared statements for the embedded database's thread (src/db/pglite-host.ts), out of the clients'
// sight.
const TYPE_PARSE = 0x50; // 'P'
const TYPE_BIND = 0x42; // 'B'
const TYPE_ERROR = 0x45; // 'E'
const PARSE_COMPLETE = Buffer.from([0x31, 0, 0, 0, 4]);
/** Statements prepared at most: the service runs about a dozen distinct ones; anything beyond runs unprepared. */
const MAX_PREPARED = 64;
/** SQLSTATEs after which a prepared statement cannot be used: it is gone (DEALLOCATE), or its result type changed. */
const STALE_STATEMENT = [Buffer.from('C26000\0'), Buffer.from('C0A000\0')];

/**
 * Prepares each statement text once, under a name of its own, for every connection. pg sends every
 * parameterized query as an unnamed Parse + Bind + Execute, so Postgres would parse and plan its text on
 * every run: for the one-row INSERT that records a /sync, about a third of its cost (measured in PGlite:
 * about 180 µs a run unprepared, 123 µs prepared). The rewrite is invisible to the client: a reused
 * statement's answer gets the ParseComplete it expects. The connections share one session, so one set of
 * names serves them all.
 */
export class StatementCache {
  /** Statement text (with its parameter types) → name, and whether Postgres has it. */
  private readonly statements = new Map<string, { name: Buffer; ready: boolean }>();
  /** Names are never reused: one whose statement could not be used may still exist in Postgres. */
  private named = 0;

  /**
   * For an exchange that starts with an unnamed Parse and an unnamed Bind, the exchange to run instead and
   * how to turn its answer back into the one the client expects (undefined: run it again unchanged).
   */
  rewrite(message: Uint8Array): { message: Uint8Array; answer(answer: Uint8Array): Uint8Array | undefined } | undefined {
    const bytes = Buffer.from(message.buffer, message.byteOffset, message.byteLength);
    if (bytes[0] !== TYPE_PARSE || bytes[5] !== 0) return undefined;
    const parseEnd = 1 + bytes.readInt32BE(1);
    if (bytes[parseEnd] !== TYPE_BIND || bytes[parseEnd + 5] !== 0 || bytes[parseEnd + 6] !== 0) return undefined;
    const key = bytes.toString('latin1', 6, parseEnd);
    let statement = this.statements.get(key);
    if (!statement) {
      if (this.statements.size >= MAX_PREPARED) return undefined;
      statement = { name: Buffer.from(`whoop_sync_${++this.named}\0`), ready: false };
      this.statements.set(key, statement);
    }
    const { name, ready } = statement;
    const bindEnd = parseEnd + 1 + bytes.readInt32BE(parseEnd + 1);
    // Bind with the statement's name in place of the empty one (portal stays unnamed).
    const bind = Buffer.concat([Buffer.from([TYPE_BIND, 0, 0, 0, 0, 0]), name, bytes.subarray(parseEnd + 7, bindEnd)]);
    bind.writeInt32BE(bind.length - 1, 1);
    const parts = [bind, bytes.subarray(bindEnd)];
    if (!ready) {
      const parse = Buffer.concat([Buffer.from([TYPE_PARSE, 0, 0, 0, 0]), name, bytes.subarray(6, parseEnd)]);
      parse.writeInt32BE(parse.length - 1, 1);
      parts.unshift(parse);
    }
    return {
      message: Buffer.concat(parts),
      answer: (answer) => {
        if (!ready) {
          // Parsed: Postgres has the statement from now on, whatever the rest of the exchange did. Not
          // parsed (a syntax error, an aborted transaction): the client gets the same error as unnamed.
          if (answer[0] === PARSE_COMPLETE[0]) statement.ready = true;
          else this.statements.delete(key);
          return answer;
        }
        // Gone or unusable (only after a DEALLOCATE or DISCARD, or a table changing under a prepared
        // SELECT): forgotten, and the exchange runs again as the client sent it.
        if (answer[0] === TYPE_ERROR && STALE_STATEMENT.some((code) => Buffer.from(answer.buffer, answer.byteOffset, answer.byteLength).includes(code))) {
          this.statements.delete(key);
          return undefined;
        }
        const complete = new Uint8Array(PARSE_COMPLETE.length + answer.length);
        complete.set(PARSE_COMPLETE);
        complete.set(answer, PARSE_COMPLETE.length);
        return complete;
      },
    };
  }
}
