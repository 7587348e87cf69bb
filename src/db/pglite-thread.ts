// Starts the embedded database on its own thread (src/db/pglite-host.ts) and opens connections to it
// for the `pg` driver: each one a MessagePort made to look like the socket `pg` expects. Everything
// above this module then uses the embedded database exactly as it uses a PostgreSQL server.
import { Duplex } from 'node:stream';
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MessageChannel, type MessagePort, Worker, type WorkerOptions } from 'node:worker_threads';
import type { HostEvent, HostOptions, HostRequest } from './pglite-host.js';

export interface PgliteThread {
  /** A new connection, for pg's `stream` option. */
  connect(): Duplex;
  /** Closes the database (after the statement in progress) and ends the thread. */
  close(): Promise<void>;
}

// Compiled (dist/), the host is a .js file beside this one. From sources (tsx, vitest) it is a .ts file:
// a new thread does not inherit the main thread's TypeScript loader, so it imports the host through tsx.
const typescript = extname(fileURLToPath(import.meta.url)) === '.ts';
const HOST = new URL(`./pglite-host${typescript ? '.ts' : '.js'}`, import.meta.url);

function hostThread(options: WorkerOptions): Worker {
  if (!typescript) return new Worker(HOST, options);
  const tsx = import.meta.resolve('tsx/esm/api');
  const load = `import(${JSON.stringify(tsx)}).then(({ register }) => { register(); return import(${JSON.stringify(HOST.href)}); });`;
  return new Worker(load, { ...options, eval: true });
}

/**
 * Starts the thread and opens the database in `dataDir`. Rejects with PGlite's reason when it cannot.
 * `onFailure` hears of the thread ending on its own later (a crash inside PGlite): every connection
 * fails from then on, and nothing short of a restart brings the database back.
 */
export async function startPgliteThread(dataDir: string, onFailure?: (error: Error) => void): Promise<PgliteThread> {
  const worker = hostThread({
    workerData: { dataDir } satisfies HostOptions,
    // The database's name in stack traces and diagnostics.
    name: 'pglite',
  });
  let stopped: Error | undefined;
  let started = false;
  let closing = false;
  const events = new Map<HostEvent['type'], (event: HostEvent) => void>();
  worker.on('message', (event: HostEvent) => events.get(event.type)?.(event));
  worker.on('error', (error) => {
    stopped = new Error(`The embedded database's thread failed: ${error.message}`, { cause: error });
  });
  const ended = new Promise<void>((resolve) => {
    worker.once('exit', (code) => {
      stopped ??= new Error(`The embedded database's thread stopped unexpectedly (exit code ${code}).`);
      if (started && !closing) onFailure?.(stopped);
      resolve();
    });
  });

  await new Promise<void>((resolve, reject) => {
    events.set('ready', () => resolve());
    events.set('failed', (event) => reject(Object.assign(new Error((event as { message: string }).message), { stack: (event as { stack?: string }).stack })));
    void ended.then(() => reject(stopped));
  });
  started = true;

  const request = (message: HostRequest, transfer?: MessagePort[]) => worker.postMessage(message, transfer);
  return {
    connect() {
      const { port1, port2 } = new MessageChannel();
      if (stopped) {
        port1.close();
        port2.close();
      } else request({ type: 'connect', port: port2 }, [port2]);
      return new PortStream(port1, stopped);
    },
    async close() {
      closing = true;
      if (!stopped) {
        const closed = new Promise<void>((resolve) => events.set('closed', () => resolve()));
        request({ type: 'close' });
        await Promise.race([closed, ended]);
        stopped = new Error('The embedded database is closed.');
      }
      await worker.terminate();
    },
  };
}

/**
 * A MessagePort as the net.Socket `pg` writes to: bytes out as one message per write (pg corks a query's
 * messages into one), bytes in as they arrive. A closed port reads as the server hanging up.
 */
class PortStream extends Duplex {
  constructor(
    private readonly port: MessagePort,
    private readonly unavailable: Error | undefined,
  ) {
    // Like a socket whose peer hung up: once the host's side ends, this side ends too, and pg hears 'close'.
    super({ allowHalfOpen: false });
    port.on('message', (chunk: Uint8Array) => this.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength)));
    port.on('close', () => this.push(null));
  }

  connect(): this {
    process.nextTick(() => (this.unavailable ? this.destroy(this.unavailable) : this.emit('connect')));
    return this;
  }

  setNoDelay(): this {
    return this;
  }

  setKeepAlive(): this {
    return this;
  }

  ref(): this {
    this.port.ref();
    return this;
  }

  unref(): this {
    this.port.unref();
    return this;
  }

  override _read(): void {}

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.post(chunk);
    callback();
  }

  override _writev(chunks: Array<{ chunk: Buffer }>, callback: (error?: Error | null) => void): void {
    this.post(chunks.length === 1 ? chunks[0]!.chunk : Buffer.concat(chunks.map(({ chunk }) => chunk)));
    callback();
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.port.close();
    callback();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.port.close();
    callback(error);
  }

  /** A copy with a buffer of its own, transferred: posting a view of Node's pooled buffers would clone the whole pool slab. */
  private post(bytes: Buffer): void {
    const copy = new Uint8Array(bytes.byteLength);
    copy.set(bytes);
    this.port.postMessage(copy, [copy.buffer]);
  }
}
