// One HTTP exchange with WHOOP, over node:http/https with keep-alive connections. Not fetch() or undici's
// request(): a service that syncs a few times a day runs its HTTP client cold, and cold both cost more CPU
// per request than node:http (docs/architecture.md, "Library decisions"). A backfill's pages form
// sequential chains, so every page's CPU is time the next page waits.
import http, { type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import https from 'node:https';
import zlib from 'node:zlib';
import { WhoopResponseError } from './errors.js';

/** A WHOOP page is ~20 KB; a body past this is not one, and is not read into memory. */
const MAX_RESPONSE_BYTES = 16 * 1024 * 1024;

export interface Exchange {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
}

export interface SendOptions {
  method: string;
  headers: Record<string, string>;
  body?: string;
  /** Aborts the exchange, the answer's body included; the promise rejects with the signal's reason. */
  signal: AbortSignal;
  /**
   * On a connection of its own instead of a pooled one. For requests that must not be repeated (a token
   * refresh spends its refresh token): a pooled connection the server closed while idle fails the request
   * after it was written, and then nobody can tell whether WHOOP received it.
   */
  fresh?: boolean;
}

export class Transport {
  constructor(private readonly maxResponseBytes = MAX_RESPONSE_BYTES) {}

  // Idle connections are closed after 4 s, before servers usually close theirs (Node's own default is 5 s),
  // so a request is seldom written onto a connection that is being closed at the other end.
  private readonly agents = {
    'http:': new http.Agent({ keepAlive: true, timeout: 4_000 }),
    'https:': new https.Agent({ keepAlive: true, timeout: 4_000 }),
  };

  send(url: URL, options: SendOptions): Promise<Exchange> {
    const { signal } = options;
    if (signal.aborted) return Promise.reject(signal.reason);
    const client = url.protocol === 'https:' ? https : http;
    const headers: Record<string, string> = { 'accept-encoding': 'gzip, deflate, br', ...options.headers };
    if (options.body !== undefined) headers['content-length'] = String(Buffer.byteLength(options.body));

    return new Promise<Exchange>((resolve, reject) => {
      let settled = false;
      const settle = (error: unknown, exchange?: Exchange) => {
        if (settled) return;
        settled = true;
        signal.removeEventListener('abort', abort);
        if (error) {
          request.destroy();
          reject(error);
        } else resolve(exchange!);
      };
      const abort = () => settle(signal.reason);
      const request = client.request(url, {
        method: options.method,
        headers,
        agent: options.fresh ? false : this.agents[url.protocol as 'http:' | 'https:'],
      });
      signal.addEventListener('abort', abort, { once: true });
      request.on('error', (error) => settle(error));
      request.on('response', (response) => {
        readBody(response, this.maxResponseBytes).then(
          (text) => settle(undefined, { status: response.statusCode ?? 0, headers: response.headers, text }),
          (error) => settle(error),
        );
      });
      request.end(options.body);
    });
  }

  /** Closes the pooled connections (they would not keep the process alive, but a closed service holds none). */
  close(): void {
    for (const agent of Object.values(this.agents)) agent.destroy();
  }
}

/**
 * Decoders for the encodings asked for, bounded in what they may produce (a small compressed body can
 * expand to gigabytes). "deflate" is meant to be zlib-wrapped, but some servers send it raw; a zlib
 * stream starts with 0x78.
 */
const DECODERS: Record<string, (body: Buffer, options: zlib.ZlibOptions & zlib.BrotliOptions) => Buffer> = {
  gzip: zlib.gunzipSync,
  'x-gzip': zlib.gunzipSync,
  deflate: (body, options) => (body[0] === 0x78 ? zlib.inflateSync(body, options) : zlib.inflateRawSync(body, options)),
  br: zlib.brotliDecompressSync,
};

/**
 * The body as text, decoded as the server encoded it, at most `maxBytes` as received and once decoded.
 * Decoded in one go once complete: a page is a few kilobytes, and a compressed one decodes in microseconds.
 */
function readBody(response: IncomingMessage, maxBytes: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const encoding = String(response.headers['content-encoding'] ?? 'identity').toLowerCase();
    const decode = encoding === 'identity' ? undefined : DECODERS[encoding];
    if (encoding !== 'identity' && !decode) {
      response.resume();
      reject(new WhoopResponseError(`WHOOP answered with a body in an encoding this service cannot read (${encoding})`));
      return;
    }
    const tooLarge = () => new WhoopResponseError(`WHOOP sent an answer larger than ${describeBytes(maxBytes)}`);
    const chunks: Buffer[] = [];
    let length = 0;
    const fail = (error: Error) => {
      response.destroy();
      reject(error);
    };
    response.on('data', (chunk: Buffer) => {
      length += chunk.length;
      if (length > maxBytes) fail(tooLarge());
      else chunks.push(chunk);
    });
    response.on('end', () => {
      const body = Buffer.concat(chunks, length);
      if (!decode) return resolve(body.toString('utf8'));
      try {
        resolve(decode(body, { maxOutputLength: maxBytes }).toString('utf8'));
      } catch (error) {
        const code = (error as { code?: string }).code;
        if (code === 'ERR_BUFFER_TOO_LARGE') reject(tooLarge());
        else reject(new WhoopResponseError(`WHOOP sent a ${encoding} body that could not be decoded: ${(error as Error).message}`));
      }
    });
    // The connection closed before the body announced by the headers was complete.
    response.on('close', () => {
      if (!response.complete) fail(Object.assign(new Error('the connection closed before the whole answer arrived'), { code: 'ECONNRESET' }));
    });
  });
}

function describeBytes(bytes: number): string {
  return bytes >= 1024 * 1024 ? `${bytes / 1024 / 1024} MiB` : `${bytes} bytes`;
}
