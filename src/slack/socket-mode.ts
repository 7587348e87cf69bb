// Slack Socket Mode: slash commands arrive over a WebSocket this service opens to Slack, so no public URL is
// needed. @slack/socket-mode speaks the protocol (apps.connections.open, hello, envelopes and their acks,
// ping/pong, disconnect); this module keeps a connection up for the life of the process. The library's own
// reconnection is off: it waits a fixed 5 s per attempt, retries apps.connections.open without bound, and
// a failure while it reconnects becomes an unhandled rejection, which ends a Node process. Here every
// attempt is awaited, a refresh is followed at once by a new connection, failures back off exponentially,
// and only a refused app token stops the attempts (nothing but a new token can fix that).
import { LogLevel, SocketModeClient, type Logger } from '@slack/socket-mode';
import type { FastifyBaseLogger } from 'fastify';
import type { Gauge } from 'prom-client';
import { InFlight } from '../util/in-flight.js';
import type { AcceptedCommand, CommandFields } from './slash-command.js';

export type SlackSocketState = 'connecting' | 'connected' | 'reconnecting' | 'refused' | 'stopped';

/** What /status and the home page show. No secrets: the token never appears, only Slack's error code. */
export type SlackSocketStatus =
  | { enabled: false }
  | {
      enabled: true;
      state: SlackSocketState;
      /** When the connection entered this state. */
      since: Date;
      /** Connections established since start-up (Slack refreshes them every few hours). */
      connections: number;
      /** Why the last attempt failed or the token was refused, while not connected. */
      error?: string;
    };

export interface SlackSocketOptions {
  appToken: string;
  /** Slack Web API base (SLACK_API_URL), where apps.connections.open is called. */
  apiUrl: string;
  log: FastifyBaseLogger;
  connected: Gauge;
  /** Handles a command (see slash-command.ts); its reply becomes the envelope's ack payload. */
  accept(fields: CommandFields, envelopeId: string): Promise<AcceptedCommand>;
  /** Starts the run recorded for a command, once its ack was sent (or could not be). */
  acknowledged(runId: number): void;
  /** Acts on an `interactive` envelope's payload (a button press), once it was acknowledged. */
  interactive(payload: unknown): void;
}

/** Slack's errors for an app token that will not work until it is replaced (or the app/workspace fixed). */
const REFUSALS = new Set([
  'invalid_auth',
  'not_authed',
  'not_allowed_token_type',
  'token_revoked',
  'token_expired',
  'missing_scope',
  'account_inactive',
  'team_disabled',
  'user_removed_from_team',
]);

const BACKOFF_MIN_MS = 1_000;
const BACKOFF_MAX_MS = 60_000;
/** A connection that lasted this long was healthy: the next one is opened at once. */
const STABLE_MS = 30_000;
/** How long one apps.connections.open call may take. */
const OPEN_TIMEOUT_MS = 10_000;
/** From apps.connections.open to Slack's hello on the new socket. */
const HELLO_TIMEOUT_MS = 30_000;
/** Shutdown waits this long for the close handshake and for commands being acknowledged. */
const STOP_MS = 2_000;

/** Exponential backoff with jitter (replicas that lost Slack together do not come back in step). */
function backoffMs(failures: number, random = Math.random): number {
  if (failures <= 0) return 0;
  const ceiling = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** (failures - 1));
  return Math.round(ceiling * (0.5 + random() / 2));
}

export class SlackSocket {
  private state: SlackSocketState = 'connecting';
  private since = new Date();
  private connections = 0;
  private error: string | undefined;
  private client: SocketModeClient | undefined;
  private loop: Promise<void> | undefined;
  private stopping = false;
  private wake: (() => void) | undefined;
  private readonly handling = new InFlight();

  constructor(private readonly options: SlackSocketOptions) {
    options.connected.set(0);
  }

  status(): SlackSocketStatus {
    return {
      enabled: true,
      state: this.state,
      since: this.since,
      connections: this.connections,
      ...(this.error ? { error: this.error } : {}),
    };
  }

  /** Connects, and keeps reconnecting until stop() or a refused token. Never throws. */
  start(): void {
    this.loop ??= this.keepConnected().catch((error: unknown) => {
      // Nothing above should throw; if it does, say so and stay down rather than take the process with it.
      this.options.log.error({ err: error }, 'Slack Socket Mode stopped after an unexpected error');
      this.enter('stopped', errorText(error));
    });
  }

  /** Closes the connection; commands being acknowledged get a moment to finish. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.wake?.();
    const client = this.client;
    if (client) await withTimeout(client.disconnect(), STOP_MS);
    await this.handling.idle(STOP_MS);
    if (this.loop) await withTimeout(this.loop, STOP_MS);
    this.enter('stopped');
  }

  private async keepConnected(): Promise<void> {
    const { log } = this.options;
    let failures = 0;
    while (!this.stopping) {
      const session = await this.connectOnce();
      if (this.stopping) break;
      if ('connectedForMs' in session) {
        // A connection that closed soon after Slack's hello waits a little before the next one, so a
        // connection that keeps closing cannot turn into a tight loop of apps.connections.open calls.
        failures = session.connectedForMs >= STABLE_MS ? 0 : 1;
        this.enter('reconnecting');
        log.info({ connectedForMs: session.connectedForMs }, 'Slack Socket Mode connection closed (Slack refreshes them regularly); reconnecting');
      } else {
        const code = platformError(session.error);
        if (code && REFUSALS.has(code)) {
          this.enter('refused', `SLACK_APP_TOKEN refused by Slack: ${code}`);
          log.error(
            `SLACK_APP_TOKEN was refused by Slack (${code}): slash commands cannot arrive over Socket Mode until the service is ` +
              'restarted with a valid app-level token (xapp-…, scope connections:write, Socket Mode enabled in the app). ' +
              'POST /slack/commands keeps serving.',
          );
          return;
        }
        failures++;
        this.enter('reconnecting', errorText(session.error));
      }
      const delay = backoffMs(failures);
      if (failures > 0) log.warn({ attempt: failures, delayMs: delay, reason: this.error }, `Slack Socket Mode: connecting again in ${(delay / 1000).toFixed(1)} s`);
      await this.sleep(delay);
    }
  }

  /** One connection, from apps.connections.open to its close. */
  private async connectOnce(): Promise<{ connectedForMs: number } | { error: unknown }> {
    const client = new SocketModeClient({
      appToken: this.options.appToken,
      autoReconnectEnabled: false,
      logger: libraryLogger(this.options.log),
      clientOptions: {
        slackApiUrl: this.options.apiUrl,
        timeout: OPEN_TIMEOUT_MS,
        // Failed attempts are retried by keepConnected(), with its backoff.
        retryConfig: { retries: 0 },
        rejectRateLimitedCalls: true,
      },
    });
    client.on('slash_commands', (event: { ack(payload: unknown): Promise<void>; envelope_id?: unknown; body?: unknown }) => {
      void this.handling.track(this.handle(event));
    });
    client.on('interactive', (event: { ack(): Promise<void>; body?: unknown }) => {
      void this.handling.track(this.press(event));
    });
    const closed = new Promise<void>((resolve) => client.once('disconnected', () => resolve()));
    this.client = client;
    const started = client.start();
    const hello = await Promise.race([
      started.then(
        () => undefined,
        // The library rejects with nothing when the socket closed before Slack's hello.
        (error: unknown) => ({ error: error ?? new Error('the connection closed before Slack said hello') }),
      ),
      delay(HELLO_TIMEOUT_MS).then(() => ({ timedOut: true as const })),
    ]);
    if (hello !== undefined || this.stopping) {
      // Whatever is still under way for this client is closed as soon as it gets anywhere.
      started.then(() => client.disconnect(), () => {});
      await withTimeout(client.disconnect(), STOP_MS);
      if (hello === undefined) return { connectedForMs: 0 };
      return 'error' in hello ? hello : { error: new Error(`Slack did not say hello within ${HELLO_TIMEOUT_MS / 1000} s`) };
    }
    const connectedAt = Date.now();
    this.connections++;
    this.enter('connected');
    this.options.connected.set(1);
    this.options.log.info({ connections: this.connections }, 'Slack Socket Mode connected: slash commands arrive over it');
    await closed;
    this.options.connected.set(0);
    return { connectedForMs: Date.now() - connectedAt };
  }

  /** One slash_commands envelope: handle the command, ack it, then start its run. */
  private async handle(event: {
    ack(payload: unknown): Promise<void>;
    envelope_id?: unknown;
    body?: unknown;
  }): Promise<void> {
    const { log } = this.options;
    const envelopeId = event.envelope_id;
    if (typeof envelopeId !== 'string' || !/^[\w.-]{1,128}$/.test(envelopeId)) {
      log.warn('Slack Socket Mode: a slash command envelope without a usable envelope_id was ignored');
      return;
    }
    try {
      const { reply, runId } = await this.options.accept(fieldsOf(event.body), envelopeId);
      try {
        await event.ack(reply);
      } catch (error) {
        // The run is recorded; Slack sends the envelope again (here or to another replica), and that
        // delivery is acknowledged without starting a second run.
        log.warn({ envelopeId, reason: errorText(error) }, 'Slack Socket Mode: could not acknowledge a command (connection lost); Slack will send it again');
      }
      if (runId !== undefined) this.options.acknowledged(runId);
    } catch (error) {
      log.error({ err: error, envelopeId }, 'Slack Socket Mode: a slash command could not be handled');
    }
  }

  /** One interactive envelope: acknowledged at once (an empty ack), acted on after. */
  private async press(event: { ack(): Promise<void>; body?: unknown }): Promise<void> {
    try {
      await event.ack();
    } catch (error) {
      this.options.log.warn({ reason: errorText(error) }, 'Slack Socket Mode: could not acknowledge a button press (connection lost)');
    }
    this.options.interactive(event.body);
  }

  private enter(state: SlackSocketState, error?: string): void {
    if (state !== this.state) this.since = new Date();
    this.state = state;
    this.error = state === 'connected' ? undefined : (error ?? this.error);
  }

  private sleep(ms: number): Promise<void> {
    if (ms <= 0 || this.stopping) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wake = done;
    });
  }
}

/** The envelope's payload carries the same fields as the HTTP form, as JSON strings. */
function fieldsOf(body: unknown): CommandFields {
  const payload = typeof body === 'object' && body !== null ? (body as Record<string, unknown>) : {};
  return {
    get: (name) => {
      const value = Object.hasOwn(payload, name) ? payload[name] : undefined;
      return typeof value === 'string' ? value : null;
    },
  };
}

function platformError(error: unknown): string | undefined {
  const { code, data } = (error ?? {}) as { code?: unknown; data?: { error?: unknown } };
  return code === 'slack_webapi_platform_error' && typeof data?.error === 'string' ? data.error : undefined;
}

function errorText(error: unknown): string {
  return platformError(error) ?? (error instanceof Error ? error.message : String(error));
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

function withTimeout(work: Promise<unknown>, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    const done = () => {
      clearTimeout(timer);
      resolve();
    };
    work.then(done, done);
  });
}

const LIBRARY_LEVELS: Record<string, LogLevel> = {
  trace: LogLevel.DEBUG,
  debug: LogLevel.DEBUG,
  info: LogLevel.INFO,
  warn: LogLevel.WARN,
};

/**
 * The library's log lines, in the service's log. It reports what it recovers from at error level; the
 * outcome that matters (connected, refused, backing off) is logged above, so its errors become warnings.
 */
function libraryLogger(log: FastifyBaseLogger): Logger {
  const line = (parts: unknown[]) => parts.map((part) => (typeof part === 'string' ? part : errorText(part))).join(' ');
  return {
    debug: (...parts: unknown[]) => log.debug(line(parts)),
    info: (...parts: unknown[]) => log.info(line(parts)),
    warn: (...parts: unknown[]) => log.warn(line(parts)),
    error: (...parts: unknown[]) => log.warn(line(parts)),
    // The level is the service's LOG_LEVEL; the library only asks for it.
    setLevel: () => {},
    getLevel: () => LIBRARY_LEVELS[log.level] ?? LogLevel.ERROR,
    setName: () => {},
  };
}
