// The embedded database's own thread. PGlite is Postgres compiled to WebAssembly: every statement runs to
// completion on the thread that calls it. On the service's main thread, that time delays every HTTP
// request waiting behind it (the Slack ack most of all). Here it runs beside them, and the main thread
// talks to it the way it talks to a PostgreSQL server: the wire protocol, through the `pg` driver, over
// one MessagePort per connection (src/db/pglite-thread.ts).
//
// PGlite is a single Postgres session, so the connections take turns. A turn is one complete exchange:
// everything a client sends up to a Sync (the extended protocol) or one simple Query, answered in a
// single call into PGlite. A connection whose last answer was not "ready for query, idle" (an open
// transaction, a failed one, a pipeline still running) keeps the session: the others wait until it
// finishes, as they would for a row lock on a real server, and never see its transaction or its unnamed
// statements.
import { type MessagePort, parentPort, workerData } from 'node:worker_threads';
import { PGlite } from '@electric-sql/pglite';
import { exchange } from './pglite-exchange.js';
import { StatementCache } from './pglite-statement-cache.js';

export interface HostOptions {
  dataDir: string;
}

/** Main thread → host. */
export type HostRequest = { type: 'connect'; port: MessagePort } | { type: 'close' };
/** Host → main thread. */
export type HostEvent = { type: 'ready' } | { type: 'closed' } | { type: 'failed'; message: string; stack?: string };

const SSL_REQUEST = 80877103;
const CANCEL_REQUEST = 80877102;
const TYPE_SYNC = 0x53; // 'S'
const TYPE_QUERY = 0x51; // 'Q'
const TYPE_TERMINATE = 0x58; // 'X'
const READY_FOR_QUERY = 0x5a; // 'Z'
const IDLE = 0x49; // 'I'
/**
 * Ends whatever a departed connection left open: Sync closes an unfinished extended-protocol exchange
 * (after an error, Postgres ignores everything up to one), then ROLLBACK an open or failed transaction.
 */
const RELEASE = Buffer.concat([Buffer.from([TYPE_SYNC, 0, 0, 0, 4]), queryMessage('ROLLBACK')]);

function queryMessage(sql: string): Uint8Array {
  const text = Buffer.from(`${sql}\0`);
  const message = Buffer.alloc(5 + text.length);
  message[0] = TYPE_QUERY;
  message.writeInt32BE(4 + text.length, 1);
  text.copy(message, 5);
  return message;
}

interface Turn {
  connection: Connection;
  message: Uint8Array;
}

/** Runs the connections' turns on the one PGlite session, one at a time. */
class Session {
  private readonly turns: Turn[] = [];
  /** The connection the session belongs to until its last answer ends idle. */
  private owner: Connection | undefined;
  private running: Promise<void> | undefined;
  private readonly statements = new StatementCache();

  constructor(private readonly db: PGlite) {}

  submit(connection: Connection, message: Uint8Array): void {
    this.turns.push({ connection, message });
    this.running ??= this.run().finally(() => {
      this.running = undefined;
    });
  }

  /** Drops a departed connection's waiting turns; if it holds the session, ends what it left open. */
  release(connection: Connection): void {
    for (let index = this.turns.length - 1; index >= 0; index--) if (this.turns[index]!.connection === connection) this.turns.splice(index, 1);
    if (this.owner === connection) this.submit(connection, RELEASE);
  }

  /** Resolves once no turn is running or waiting. */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  private next(): Turn | undefined {
    if (!this.owner) return this.turns.shift();
    const index = this.turns.findIndex((turn) => turn.connection === this.owner);
    return index === -1 ? undefined : this.turns.splice(index, 1)[0];
  }

  /** Runs one exchange, through a prepared statement where it can. */
  private async execute(message: Uint8Array): Promise<Uint8Array> {
    const prepared = this.statements.rewrite(message);
    if (!prepared) return exchange(this.db, message);
    return prepared.answer(await exchange(this.db, prepared.message)) ?? exchange(this.db, message);
  }

  private async run(): Promise<void> {
    for (let turn = this.next(); turn; turn = this.next()) {
      const { connection, message } = turn;
      let answer: Uint8Array;
      try {
        answer = await this.execute(message);
      } catch {
        // PGlite itself failed (a failing statement answers with an ErrorResponse instead). What the turn
        // left open is unknown: the connection ends (its client sees it drop) and one RELEASE tries to
        // end the rest. If that fails too, the session goes to the others as it is.
        connection.close();
        this.owner = message === RELEASE ? undefined : connection;
        if (this.owner) this.turns.unshift({ connection, message: RELEASE });
        continue;
      }
      const idle = answer.length >= 6 && answer[answer.length - 6] === READY_FOR_QUERY && answer[answer.length - 1] === IDLE;
      // A RELEASE is the last turn of a departed connection, whatever it answered.
      this.owner = idle || message === RELEASE ? undefined : connection;
      // A connection that left while its turn ran: end what the turn opened before anyone else goes.
      if (this.owner && connection.closed) this.turns.unshift({ connection, message: RELEASE });
      connection.send(answer);
    }
  }
}

/** One client connection: splits its bytes into protocol messages and its messages into turns. */
class Connection {
  private buffered: Buffer = Buffer.alloc(0);
  /** Complete messages of the exchange in progress, not yet submitted. */
  private exchange: Buffer[] = [];
  private started = false;
  closed = false;

  constructor(
    private readonly port: MessagePort,
    private readonly session: Session,
  ) {
    port.on('message', (chunk: Uint8Array | null) => (chunk ? this.receive(chunk) : this.close()));
    port.on('close', () => this.close());
  }

  send(answer: Uint8Array): void {
    if (this.closed || answer.length === 0) return;
    // Transfer rather than copy when the answer owns its whole buffer.
    const own = answer.byteOffset === 0 && answer.byteLength === answer.buffer.byteLength ? answer : answer.slice();
    this.port.postMessage(own, [own.buffer as ArrayBuffer]);
  }

  private receive(chunk: Uint8Array): void {
    if (this.closed) return;
    this.buffered = this.buffered.length ? Buffer.concat([this.buffered, chunk]) : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    for (;;) {
      const message = this.started ? this.typedMessage() : this.startupMessage();
      if (!message || this.closed) return;
    }
  }

  /** The first message has no type byte: StartupMessage, or an SSL or cancel request before it. */
  private startupMessage(): boolean {
    if (this.buffered.length < 8) return false;
    const length = this.buffered.readInt32BE(0);
    if (this.buffered.length < length) return false;
    const message = this.take(length);
    const code = message.readInt32BE(4);
    if (code === SSL_REQUEST) this.send(Buffer.from('N'));
    else if (code === CANCEL_REQUEST) this.close(); // nothing to cancel: a turn always runs to its end
    else {
      this.started = true;
      this.session.submit(this, message);
    }
    return true;
  }

  private typedMessage(): boolean {
    if (this.buffered.length < 5) return false;
    const length = 1 + this.buffered.readInt32BE(1);
    if (this.buffered.length < length) return false;
    const message = this.take(length);
    const type = message[0];
    // Terminate would end PGlite's one session for everyone: it ends this connection only.
    if (type === TYPE_TERMINATE) this.close();
    else {
      this.exchange.push(message);
      if (type === TYPE_SYNC || type === TYPE_QUERY) {
        this.session.submit(this, this.exchange.length === 1 ? message : Buffer.concat(this.exchange));
        this.exchange = [];
      }
    }
    return true;
  }

  private take(length: number): Buffer {
    const message = this.buffered.subarray(0, length);
    this.buffered = this.buffered.subarray(length);
    return message;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.session.release(this);
    this.port.close();
  }
}

async function host(port: MessagePort, options: HostOptions): Promise<void> {
  const post = (event: HostEvent) => port.postMessage(event);
  let db: PGlite;
  try {
    db = await PGlite.create(options.dataDir);
    // Starting a WAL segment zero-fills 16 MB by default: a 30–50 ms stall every few thousand writes.
    // Without zero-filling, a new segment is created at its full size by writing its last byte.
    await db.exec('SET wal_init_zero = off');
  } catch (error) {
    post({ type: 'failed', message: (error as Error).message ?? String(error), stack: (error as Error).stack });
    port.close();
    return;
  }
  const session = new Session(db);
  const connections = new Set<Connection>();
  port.on('message', (request: HostRequest) => {
    if (request.type === 'connect') {
      const connection = new Connection(request.port, session);
      connections.add(connection);
      request.port.on('close', () => connections.delete(connection));
    } else if (request.type === 'close') {
      void (async () => {
        for (const connection of connections) connection.close();
        await session.idle();
        await db.close();
        post({ type: 'closed' });
        port.close();
      })();
    }
  });
  post({ type: 'ready' });
}

if (parentPort) await host(parentPort, workerData as HostOptions);
