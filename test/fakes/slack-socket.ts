// The Socket Mode side of the fake Slack (slack-server.ts serves it on the same port): `apps.connections.open`
// answers a one-time ws:// URL; the WebSocket server there behaves like Slack's: it says hello, pings, sends
// slash-command envelopes, checks every ack (its envelope_id and payload), sends an envelope again with the
// same envelope_id when its ack does not arrive in time, and sends `disconnect` messages (a refresh) or cuts
// sockets on request. It uses the `ws` package, nothing shared with the service's client.
import { randomBytes, randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';

const FAKE_APP_ID = 'A0APP00001';
export const FAKE_APP_TOKEN = `xapp-1-${FAKE_APP_ID}-1000000000001-0123456789abcdef0123456789abcdef`;

interface SocketAck {
  envelopeId: string;
  /** The ack's payload: for a slash command, the JSON Slack shows the person (`{ response_type, text }`). */
  payload: Record<string, unknown> | undefined;
  at: Date;
  /** Which connection (1, 2, … in the order they said hello) the ack came on. */
  connection: number;
  /** Time from the delivery it answers to its arrival. */
  afterMs: number;
}

interface SocketDelivery {
  envelopeId: string;
  connection: number;
  /** 1 for the first delivery, 2… for redeliveries of an envelope whose ack did not arrive. */
  attempt: number;
  at: Date;
}

interface SocketCommandOptions {
  /** Payload fields replacing the defaults (channel C0CHANNEL1, user U0ALICE001, a response_url on the fake). */
  fields?: Record<string, string>;
  envelopeId?: string;
  /** Drop this many acks of the envelope as if they were lost on the way: Slack then sends it again. */
  loseAcks?: number;
}

export interface FakeSocketModeOptions {
  appToken?: string;
  /** The workspace commands come from (default T0FAKE0001, as the fake Web API's auth.test says). */
  teamId?: string;
  /** How long an envelope waits for its ack before it is sent again (Slack: its 3 s limit). */
  redeliverAfterMs?: number;
  /** Deliveries of one envelope before giving up (the first and the redeliveries). */
  maxDeliveries?: number;
  pingIntervalMs?: number;
}

export interface FakeSocketMode {
  appToken: string;
  /** Open connections that received hello. */
  readonly connected: number;
  /** Connections that ever received hello. */
  readonly connections: number;
  /** apps.connections.open answers, ok or not. */
  readonly opens: { ok: boolean; error?: string; at: Date }[];
  deliveries: SocketDelivery[];
  /** Acks that arrived (lost ones are in lostAcks). */
  acks: SocketAck[];
  lostAcks: SocketAck[];
  /** Whatever a client sent that Slack would not accept: unknown envelope ids, malformed acks. */
  problems: string[];
  /** Sends a /sync-style slash command envelope; resolves with its first ack that arrives (after redeliveries). */
  command(text: string, options?: SocketCommandOptions): Promise<SocketAck>;
  /** Sends an `interactive` envelope (a button press: `payload` is the block_actions payload). */
  interactive(payload: Record<string, unknown>, options?: Omit<SocketCommandOptions, 'fields'>): Promise<SocketAck>;
  /** Sends `{ type: 'disconnect', reason }` to every connection, and closes those still open after `graceMs`. */
  disconnect(reason?: 'refresh_requested' | 'warning' | 'link_disabled', graceMs?: number): void;
  /** Destroys every connection's TCP socket without a close frame (a dropped network). */
  cut(): void;
  waitFor(condition: () => boolean, what: string, timeoutMs?: number): Promise<void>;
  reset(): void;
  /** Internal to slack-server.ts: answers apps.connections.open. */
  open(authorization: string | undefined): Record<string, unknown>;
  /** Internal to slack-server.ts: takes WebSocket upgrades for the URLs that open() handed out. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void;
  close(): void;
}

interface Envelope {
  id: string;
  message: string;
  attempts: number;
  loseAcks: number;
  lastDeliveredAt: number;
  timer?: NodeJS.Timeout;
  settled: boolean;
  resolve(ack: SocketAck): void;
  reject(error: Error): void;
}

interface Connection {
  id: number;
  ws: WebSocket;
}

export function createFakeSocketMode(
  base: string,
  responseUrl: () => string,
  options: FakeSocketModeOptions = {},
): FakeSocketMode {
  const appToken = options.appToken ?? FAKE_APP_TOKEN;
  const redeliverAfterMs = options.redeliverAfterMs ?? 3000;
  const maxDeliveries = options.maxDeliveries ?? 4;
  const wss = new WebSocketServer({ noServer: true, maxPayload: 64 * 1024 });
  const tickets = new Set<string>();
  const open = new Map<number, Connection>();
  const envelopes = new Map<string, Envelope>();
  /** Envelopes waiting for a connection to be sent on. */
  const waiting: Envelope[] = [];
  const timers = new Set<NodeJS.Timeout>();
  const listeners = new Set<() => void>();
  let helloCount = 0;
  let nextConnection = 0;

  const state = {
    opens: [] as FakeSocketMode['opens'],
    deliveries: [] as SocketDelivery[],
    acks: [] as SocketAck[],
    lostAcks: [] as SocketAck[],
    problems: [] as string[],
  };
  const notify = () => listeners.forEach((listener) => listener());
  const later = (ms: number, fn: () => void) => {
    const timer = setTimeout(() => {
      timers.delete(timer);
      fn();
    }, ms);
    timers.add(timer);
    return timer;
  };

  function deliver(envelope: Envelope): void {
    if (envelope.settled) return;
    const connections = [...open.values()];
    if (connections.length === 0) {
      waiting.push(envelope);
      return;
    }
    if (envelope.attempts >= maxDeliveries) {
      envelope.settled = true;
      envelope.reject(new Error(`fake Slack: envelope ${envelope.id} was delivered ${envelope.attempts} times and never acknowledged`));
      return;
    }
    // Like Slack, any open connection of the app may get it.
    const connection = connections[envelope.attempts % connections.length]!;
    envelope.attempts++;
    envelope.lastDeliveredAt = performance.now();
    connection.ws.send(envelope.message);
    state.deliveries.push({
      envelopeId: envelope.id,
      connection: connection.id,
      attempt: envelope.attempts,
      at: new Date(),
    });
    envelope.timer = later(redeliverAfterMs, () => deliver(envelope));
    notify();
  }

  function received(connection: Connection, data: Buffer, isBinary: boolean): void {
    if (isBinary) return void state.problems.push(`connection ${connection.id}: binary frame`);
    let message: unknown;
    try {
      message = JSON.parse(data.toString('utf8'));
    } catch {
      return void state.problems.push(`connection ${connection.id}: not JSON: ${data.toString('utf8').slice(0, 200)}`);
    }
    const { envelope_id: envelopeId, payload } = (message ?? {}) as { envelope_id?: unknown; payload?: unknown };
    if (typeof envelopeId !== 'string') return void state.problems.push(`connection ${connection.id}: message without envelope_id: ${data.toString('utf8').slice(0, 200)}`);
    const envelope = envelopes.get(envelopeId);
    if (!envelope) return void state.problems.push(`connection ${connection.id}: ack for an unknown envelope ${envelopeId}`);
    if (payload !== undefined && (typeof payload !== 'object' || payload === null || Array.isArray(payload))) {
      return void state.problems.push(`envelope ${envelopeId}: ack payload is not an object`);
    }
    const ack: SocketAck = {
      envelopeId,
      payload: payload as Record<string, unknown> | undefined,
      at: new Date(),
      connection: connection.id,
      afterMs: performance.now() - envelope.lastDeliveredAt,
    };
    if (envelope.loseAcks > 0) {
      envelope.loseAcks--;
      state.lostAcks.push(ack);
      return notify();
    }
    state.acks.push(ack);
    if (!envelope.settled) {
      envelope.settled = true;
      clearTimeout(envelope.timer);
      envelope.resolve(ack);
    }
    notify();
  }

  function send(id: string, message: string, loseAcks = 0): Promise<SocketAck> {
    return new Promise<SocketAck>((resolve, reject) => {
      const envelope: Envelope = {
        id,
        message,
        attempts: 0,
        loseAcks,
        lastDeliveredAt: 0,
        settled: false,
        resolve,
        reject,
      };
      envelopes.set(id, envelope);
      deliver(envelope);
    });
  }

  function connected(ws: WebSocket): void {
    const connection: Connection = { id: ++nextConnection, ws };
    open.set(connection.id, connection);
    helloCount++;
    ws.on('message', (data: Buffer, isBinary) => received(connection, data, isBinary));
    ws.on('close', () => {
      open.delete(connection.id);
      notify();
    });
    ws.on('error', () => {});
    const ping = setInterval(() => ws.ping(), options.pingIntervalMs ?? 10_000);
    ping.unref();
    ws.on('close', () => clearInterval(ping));
    ws.send(
      JSON.stringify({
        type: 'hello',
        num_connections: open.size,
        debug_info: { host: 'applink-fake-1', build_number: 1, approximate_connection_time: 18060 },
        connection_info: { app_id: FAKE_APP_ID },
      }),
    );
    for (const envelope of waiting.splice(0)) deliver(envelope);
    notify();
  }

  return {
    appToken,
    get connected() {
      return open.size;
    },
    get connections() {
      return helloCount;
    },
    get opens() {
      return state.opens;
    },
    get deliveries() {
      return state.deliveries;
    },
    get acks() {
      return state.acks;
    },
    get lostAcks() {
      return state.lostAcks;
    },
    get problems() {
      return state.problems;
    },

    open(authorization) {
      const refuse = (error: string) => {
        state.opens.push({ ok: false, error, at: new Date() });
        return { ok: false, error };
      };
      const token = /^Bearer (.+)$/.exec(authorization ?? '')?.[1];
      if (!token) return refuse('not_authed');
      if (/^xox[bpa]-/.test(token)) return refuse('not_allowed_token_type');
      if (token !== appToken) return refuse('invalid_auth');
      const ticket = randomBytes(16).toString('hex');
      tickets.add(ticket);
      state.opens.push({ ok: true, at: new Date() });
      return { ok: true, url: `${base.replace(/^http/, 'ws')}/link/?ticket=${ticket}&app_id=${FAKE_APP_ID}` };
    },

    handleUpgrade(req, socket, head) {
      const url = new URL(req.url ?? '/', 'http://fake-slack.invalid');
      const ticket = url.searchParams.get('ticket') ?? '';
      // Each URL from apps.connections.open works once.
      if (url.pathname !== '/link/' || !tickets.delete(ticket)) {
        socket.end('HTTP/1.1 401 Unauthorized\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
        return;
      }
      wss.handleUpgrade(req, socket, head, connected);
    },

    command(text, commandOptions = {}) {
      const id = commandOptions.envelopeId ?? randomUUID();
      const payload = {
        token: 'deprecated-verification-token',
        team_id: options.teamId ?? 'T0FAKE0001',
        team_domain: 'testteam',
        channel_id: 'C0CHANNEL1',
        channel_name: 'health',
        user_id: 'U0ALICE001',
        user_name: 'alice',
        command: '/sync',
        text,
        api_app_id: FAKE_APP_ID,
        is_enterprise_install: 'false',
        response_url: responseUrl(),
        trigger_id: `${Date.now()}.${randomBytes(6).toString('hex')}`,
        ...commandOptions.fields,
      };
      return send(id, JSON.stringify({ envelope_id: id, payload, type: 'slash_commands', accepts_response_payload: true }), commandOptions.loseAcks);
    },

    interactive(payload, interactiveOptions = {}) {
      const id = interactiveOptions.envelopeId ?? randomUUID();
      return send(id, JSON.stringify({ envelope_id: id, payload, type: 'interactive', accepts_response_payload: false }), interactiveOptions.loseAcks);
    },

    disconnect(reason = 'refresh_requested', graceMs = 5_000) {
      for (const { ws } of open.values()) {
        ws.send(JSON.stringify({ type: 'disconnect', reason, debug_info: { host: 'applink-fake-1' } }));
        later(graceMs, () => ws.terminate());
      }
    },

    cut() {
      for (const { ws } of open.values()) ws.terminate();
    },

    waitFor(condition, what, timeoutMs = 15_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          if (!condition()) return;
          done();
          resolve();
        };
        // Checked on every socket event, and regularly for conditions on anything else (the Web API's calls).
        const poll = setInterval(check, 25);
        const timer = setTimeout(() => {
          done();
          reject(new Error(`fake Slack socket: timed out after ${timeoutMs} ms waiting for ${what} (connected ${open.size}, connections ${helloCount}, opens ${JSON.stringify(state.opens.map((o) => o.error ?? 'ok'))})`));
        }, timeoutMs);
        const done = () => {
          clearTimeout(timer);
          clearInterval(poll);
          listeners.delete(check);
        };
        listeners.add(check);
        check();
      });
    },

    reset() {
      for (const envelope of envelopes.values()) {
        clearTimeout(envelope.timer);
        envelope.settled = true;
      }
      envelopes.clear();
      waiting.length = 0;
      state.opens.length = 0;
      state.deliveries.length = 0;
      state.acks.length = 0;
      state.lostAcks.length = 0;
      state.problems.length = 0;
    },

    close() {
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      for (const envelope of envelopes.values()) clearTimeout(envelope.timer);
      for (const { ws } of open.values()) ws.terminate();
      wss.close();
    },
  };
}
