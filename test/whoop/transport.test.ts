// The HTTP client every WHOOP request goes through, against a real local server that misbehaves on
// request: compressed bodies, unknown encodings, endless and cut-off bodies, stalls, and a count of the
// connections it was given (pages reuse one; a token refresh gets its own).
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { brotliCompressSync, deflateRawSync, deflateSync, gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WhoopResponseError } from '../../src/whoop/errors.js';
import { Transport } from '../../src/whoop/transport.js';

const PAGE = JSON.stringify({ records: Array.from({ length: 25 }, (_, i) => ({ id: i, note: 'é'.repeat(40) })), next_token: 'n' });

describe('WHOOP transport', () => {
  let server: Server;
  let base: string;
  let connections = 0;
  const sockets = new Set<Socket>();
  const closedSockets: Socket[] = [];

  beforeAll(async () => {
    server = createServer((req, res) => route(req, res));
    server.on('connection', (socket: Socket) => {
      connections++;
      sockets.add(socket);
      socket.on('close', () => {
        sockets.delete(socket);
        closedSockets.push(socket);
      });
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  function route(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', base);
    switch (url.pathname) {
      case '/page': {
        const encoding = url.searchParams.get('encoding') ?? 'identity';
        const encoders: Record<string, (text: string) => Buffer> = {
          identity: (text) => Buffer.from(text),
          gzip: (text) => gzipSync(text),
          deflate: (text) => (url.searchParams.has('raw') ? deflateRawSync(text) : deflateSync(text)),
          br: (text) => brotliCompressSync(text),
          compress: (text) => Buffer.from(text),
        };
        const body = url.searchParams.has('garbage') ? Buffer.from('not compressed at all') : encoders[encoding]!(PAGE);
        res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': encoding, 'content-length': body.length, 'x-accept-encoding': String(req.headers['accept-encoding']) });
        res.end(body);
        return;
      }
      case '/endless': {
        res.writeHead(200, { 'content-type': 'application/json' });
        const chunk = Buffer.alloc(64 * 1024, 0x20);
        const pump = () => {
          while (!res.destroyed && res.write(chunk));
          if (!res.destroyed) res.once('drain', pump);
        };
        pump();
        return;
      }
      case '/bomb': {
        // 64 MiB of spaces, compressed to about 64 KB.
        const body = gzipSync(Buffer.alloc(64 * 1024 * 1024, 0x20));
        res.writeHead(200, { 'content-encoding': 'gzip', 'content-length': body.length });
        res.end(body);
        return;
      }
      case '/cut': {
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': PAGE.length });
        res.write(PAGE.slice(0, 100), () => res.destroy());
        return;
      }
      case '/stall':
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': 1000 });
        res.write('{"records": [');
        return;
      case '/token': {
        let body = '';
        req.setEncoding('utf8');
        req.on('data', (chunk: string) => (body += chunk));
        req.on('end', () => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ received: body, length: req.headers['content-length'] })));
        return;
      }
      default:
        res.writeHead(404).end();
    }
  }

  const send = (
    transport: Transport,
    path: string,
    options: { method?: string; body?: string; fresh?: boolean; signal?: AbortSignal } = {},
  ) =>
    transport.send(new URL(base + path), { method: options.method ?? 'GET', headers: {}, body: options.body, fresh: options.fresh, signal: options.signal ?? new AbortController().signal });

  /** Runs `fn` with a transport of its own, closed afterwards whatever happens. */
  async function withTransport(fn: (transport: Transport) => Promise<void>, maxResponseBytes?: number): Promise<void> {
    const transport = new Transport(maxResponseBytes);
    try {
      await fn(transport);
    } finally {
      transport.close();
    }
  }

  it('reads identity, gzip, deflate (wrapped or raw) and br bodies, and asks for compression', () =>
    withTransport(async (transport) => {
      for (const encoding of ['identity', 'gzip', 'deflate', 'deflate&raw', 'br']) {
        const exchange = await send(transport, `/page?encoding=${encoding}`);
        expect(exchange.status).toBe(200);
        expect(exchange.text).toBe(PAGE);
        expect(exchange.headers['x-accept-encoding']).toBe('gzip, deflate, br');
      }
    }));

  it('refuses a body in an encoding it cannot read, or that does not decode, with a message that says so', () =>
    withTransport(async (transport) => {
      const error = await send(transport, '/page?encoding=compress').catch((e: unknown) => e);
      expect(error).toBeInstanceOf(WhoopResponseError);
      expect((error as Error).message).toBe('WHOOP answered with a body in an encoding this service cannot read (compress)');
      const garbage = await send(transport, '/page?encoding=gzip&garbage').catch((e: unknown) => e);
      expect(garbage).toBeInstanceOf(WhoopResponseError);
      expect((garbage as Error).message).toMatch(/^WHOOP sent a gzip body that could not be decoded: /);
    }));

  it('stops reading an endless body at the limit, and a compressed one at the limit once decoded', () =>
    withTransport(async (transport) => {
      const endless = await send(transport, '/endless').catch((e: unknown) => e);
      expect(endless).toBeInstanceOf(WhoopResponseError);
      expect((endless as Error).message).toBe('WHOOP sent an answer larger than 262144 bytes');
      const bomb = await send(transport, '/bomb').catch((e: unknown) => e);
      expect((bomb as Error).message).toBe('WHOOP sent an answer larger than 262144 bytes');
      // The same client goes on working.
      expect((await send(transport, '/page')).text).toBe(PAGE);
    }, 256 * 1024));

  it('reports a connection cut before the announced body was complete as a network failure', () =>
    withTransport(async (transport) => {
      const error = await send(transport, '/cut').catch((e: unknown) => e);
      expect(error).toBeInstanceOf(Error);
      expect(error).not.toBeInstanceOf(WhoopResponseError);
      expect((error as { code?: string }).code).toBe('ECONNRESET');
    }));

  it('aborts a body that stops arriving with the signal’s reason, and closes the connection', () =>
    withTransport(async (transport) => {
      const controller = new AbortController();
      const reason = new DOMException('no answer within 50 ms', 'TimeoutError');
      setTimeout(() => controller.abort(reason), 50);
      const before = closedSockets.length;
      const error = await send(transport, '/stall', { signal: controller.signal }).catch((e: unknown) => e);
      expect(error).toBe(reason);
      await expect.poll(() => closedSockets.length).toBeGreaterThan(before);
      // An already aborted signal sends nothing.
      const requestsBefore = connections;
      expect(await send(transport, '/page', { signal: AbortSignal.abort(reason) }).catch((e: unknown) => e)).toBe(reason);
      expect(connections).toBe(requestsBefore);
    }));

  it('keeps one connection for repeatable requests, opens a new one for each that must not be repeated, and closes idle ones on close()', async () => {
    const transport = new Transport();
    const before = connections;
    for (let i = 0; i < 5; i++) expect((await send(transport, '/page')).status).toBe(200);
    expect(connections - before).toBe(1);

    const form = 'grant_type=refresh_token&refresh_token=r%C3%A9';
    for (let i = 0; i < 2; i++) {
      const exchange = await send(transport, '/token', { method: 'POST', body: form, fresh: true });
      expect(JSON.parse(exchange.text)).toEqual({ received: form, length: String(Buffer.byteLength(form)) });
    }
    expect(connections - before).toBe(3);

    expect(sockets.size).toBeGreaterThan(0);
    transport.close();
    await expect.poll(() => sockets.size).toBe(0);
  });
});
