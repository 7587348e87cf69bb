// A fake Slack Web API over real HTTP (node:http, nothing shared with the service), so the service's real
// @slack/web-api WebClient talks to it exactly as it would to https://slack.com/api/: point SLACK_API_URL at
// `apiUrl`. It also serves response_url endpoints like hooks.slack.com/commands/…, and can inject the faults
// Slack produces (platform errors answered with HTTP 200, 429 with Retry-After, 5xx, slowness, resets).
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { createFakeSocketMode, type FakeSocketMode, type FakeSocketModeOptions } from './slack-socket.js';

export interface PostedMessage {
  channel: string;
  /** '' when the message was sent with blocks only. */
  text: string;
  blocks?: unknown[];
  thread_ts?: string;
  /** The ts the fake answered with. */
  ts: string;
  at: Date;
  /** Every argument as received, with JSON-valued form fields (blocks, attachments, metadata) decoded. */
  raw: Record<string, unknown>;
  /** How the body arrived: WebClient sends form-encoded bodies. */
  encoding: 'form' | 'json';
}

interface ApiCall {
  /** Web API method (e.g. 'chat.postMessage') or 'response_url' for posts to a response URL. */
  method: string;
  status: number;
  at: Date;
  /** The `error` of an `ok: false` answer, when there was one. */
  error?: string;
}

/** A file shared through the external upload flow (getUploadURLExternal → upload → completeUploadExternal). */
export interface CompletedUpload {
  channel: string;
  initialComment: string | undefined;
  blocks: unknown[] | undefined;
  threadTs: string | undefined;
  /** `url`: where this server serves the file (GET), like Slack's url_private, so a browser can open it. */
  files: { id: string; title: string | undefined; filename: string; bytes: Buffer; url: string }[];
  at: Date;
}

interface EphemeralMessage {
  channel: string;
  user: string;
  text: string;
  at: Date;
}

interface ResponseUrlPost {
  id: string;
  body: Record<string, unknown>;
  at: Date;
}

type SlackFault =
  /** A platform error: HTTP 200 with `{ ok: false, error }`, e.g. 'not_in_channel', 'channel_not_found'. */
  | { error: string }
  /** HTTP 429 with `Retry-After` (default 1 s) and `{ ok: false, error: 'ratelimited' }`. */
  | { status: 429; retryAfterSeconds?: number }
  /** An HTTP 5xx with a non-JSON body. */
  | { status: 500 | 502 | 503 }
  /** Answers normally, but only after this delay (exercises the client's timeout). */
  | { delayMs: number }
  /** Drops the connection without an answer (a network error for the client). */
  | { reset: true };

interface FaultOptions {
  /** Only calls to this Web API method consume the fault; default: any method. */
  method?: string;
}

export interface FakeSlack {
  /** Base URL ending in `/`, for SLACK_API_URL / WebClient's slackApiUrl. */
  apiUrl: string;
  botToken: string;
  /** Socket Mode: `apps.connections.open` (with `socket.appToken`) and the WebSocket it leads to. */
  socket: FakeSocketMode;
  /** Successful chat.postMessage calls, in order. */
  messages: PostedMessage[];
  /** Every API call, including failures, and every response_url post (method 'response_url'). */
  calls: ApiCall[];
  /** The next `count` matching API calls fail with `failure`. */
  failNext(count: number, failure: SlackFault, options?: FaultOptions): void;
  /** Every matching API call fails with `failure` until called with null (after any failNext faults). */
  failAlways(failure: SlackFault | null, options?: FaultOptions): void;
  /** A URL on this server that accepts response_url posts (JSON), like hooks.slack.com/commands/… */
  responseUrl(id?: string): string;
  /** Accepted posts to response URLs, in order. */
  responses: ResponseUrlPost[];
  /** Make response_url posts answer this HTTP status (null restores normal behaviour). */
  failResponseUrls(status: number | null): void;
  waitForMessages(count: number, timeoutMs?: number): Promise<PostedMessage[]>;
  /** Completed file uploads (files.completeUploadExternal), in order. */
  uploads: CompletedUpload[];
  /** Successful chat.postEphemeral calls, in order: seen only by `user`. */
  ephemerals: EphemeralMessage[];
  waitForEphemerals(count: number, timeoutMs?: number): Promise<EphemeralMessage[]>;
  /** The direct-message channel conversations.open answers for a user: `D` and the user id without its `U`. */
  directMessageChannel(user: string): string;
  waitForUploads(count: number, timeoutMs?: number): Promise<CompletedUpload[]>;
  waitForResponses(count: number, timeoutMs?: number): Promise<ResponseUrlPost[]>;
  /** Forgets recorded messages, calls, responses and faults (arrays are emptied in place). */
  reset(): void;
  close(): Promise<void>;
}

const FAKE_TEAM_ID = 'T0FAKE0001';
const FAKE_BOT_USER_ID = 'U0FAKEBOT1';
const FAKE_BOT_ID = 'B0FAKEBOT1';

// Slack refuses longer messages; a service that forwards an unbounded error text should find out in tests.
const MAX_TEXT_LENGTH = 40_000;
const MAX_BODY_BYTES = 1024 * 1024;
// Slack decodes these form fields as JSON; WebClient JSON.stringify()s every non-scalar argument.
const JSON_FIELDS = new Set(['blocks', 'attachments', 'metadata']);
// A response_url accepts this many posts (Slack: up to 5 times within 30 minutes).
const RESPONSE_URL_USES = 5;

interface FaultRule {
  failure: SlackFault;
  method: string | undefined;
}

export interface FakeSlackOptions {
  botToken?: string;
  /** The workspace auth.test names and Socket Mode commands come from (default T0FAKE0001). */
  teamId?: string;
  socket?: FakeSocketModeOptions;
  /** Hears of each accepted chat.postMessage (the demo prints them). */
  onMessage?: (message: PostedMessage) => void;
  /** Hears of each completed file upload (the demo prints them). */
  onUpload?: (upload: CompletedUpload) => void;
}

export async function startFakeSlack(options: FakeSlackOptions = {}): Promise<FakeSlack> {
  const botToken = options.botToken ?? 'xoxb-test-token';
  const messages: PostedMessage[] = [];
  const calls: ApiCall[] = [];
  const responses: ResponseUrlPost[] = [];
  const uploads: CompletedUpload[] = [];
  const ephemerals: EphemeralMessage[] = [];
  /** Files between getUploadURLExternal and completeUploadExternal; bytes once uploaded. */
  const pendingFiles = new Map<string, { filename: string; length: number; bytes?: Buffer }>();
  /** Files shared in a channel, served at /files/<id>/<filename>. */
  const sharedFiles = new Map<string, { filename: string; bytes: Buffer }>();
  let fileCounter = 0;
  let queued: FaultRule[] = [];
  let always: FaultRule | null = null;
  let responseUrlStatus: number | null = null;
  const responseUses = new Map<string, number>();
  let tsCounter = 0;
  const tsBase = Math.floor(Date.now() / 1000);
  const waiters = new Set<() => void>();
  const timers = new Set<NodeJS.Timeout>();
  const sockets = new Set<Socket>();

  const notify = () => {
    for (const waiter of [...waiters]) waiter();
  };

  const takeFault = (method: string): SlackFault | undefined => {
    const index = queued.findIndex((rule) => rule.method === undefined || rule.method === method);
    if (index >= 0) return queued.splice(index, 1)[0]!.failure;
    if (always && (always.method === undefined || always.method === method)) return always.failure;
    return undefined;
  };

  const send = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
    const text = typeof body === 'string' ? body : JSON.stringify(body);
    res.writeHead(status, {
      'content-type': typeof body === 'string' ? 'text/plain; charset=utf-8' : 'application/json; charset=utf-8',
      'content-length': String(Buffer.byteLength(text)),
      ...headers,
    });
    res.end(text);
  };

  const answer = (
    res: ServerResponse,
    method: string,
    status: number,
    body: unknown,
    headers?: Record<string, string>,
  ) => {
    const error =
      typeof body === 'object' && body !== null && (body as { ok?: unknown }).ok === false
        ? String((body as { error?: unknown }).error)
        : undefined;
    calls.push({ method, status, at: new Date(), ...(error !== undefined ? { error } : {}) });
    send(res, status, body, headers);
    notify();
  };

  const later = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        timers.delete(timer);
        resolve();
      }, ms);
      timers.add(timer);
    });

  async function handleApi(
    req: IncomingMessage,
    res: ServerResponse,
    method: string,
    body: Buffer,
    query: URLSearchParams,
  ) {
    const known = ['chat.postMessage', 'chat.postEphemeral', 'conversations.open', 'auth.test', 'apps.connections.open', 'files.getUploadURLExternal', 'files.completeUploadExternal'].includes(method);
    if (!known) return answer(res, method, 200, { ok: false, error: 'unknown_method' });

    const fault = takeFault(method);
    if (fault && 'delayMs' in fault) {
      await later(fault.delayMs);
      if (res.destroyed || req.socket.destroyed) {
        calls.push({ method, status: 0, at: new Date(), error: 'client_gone' });
        return;
      }
    } else if (fault && 'reset' in fault) {
      calls.push({ method, status: 0, at: new Date(), error: 'connection_reset' });
      req.socket.destroy();
      notify();
      return;
    } else if (fault && 'status' in fault && fault.status === 429) {
      const retryAfter = String(fault.retryAfterSeconds ?? 1);
      return answer(res, method, 429, { ok: false, error: 'ratelimited' }, { 'retry-after': retryAfter });
    } else if (fault && 'status' in fault) {
      calls.push({ method, status: fault.status, at: new Date() });
      send(res, fault.status, 'Internal Server Error (fake Slack)');
      notify();
      return;
    }

    // Called with the app-level token, not the bot token.
    if (method === 'apps.connections.open') {
      if (fault && 'error' in fault) return answer(res, method, 200, { ok: false, error: fault.error });
      return answer(res, method, 200, socket.open(req.headers.authorization));
    }

    const auth = req.headers.authorization;
    if (auth !== `Bearer ${botToken}`) return answer(res, method, 200, { ok: false, error: 'invalid_auth' });

    if (fault && 'error' in fault) return answer(res, method, 200, { ok: false, error: fault.error });

    if (method === 'auth.test') {
      return answer(res, method, 200, {
        ok: true,
        url: 'https://fake-workspace.slack.com/',
        team: 'Fake Workspace',
        user: 'whoop-sync',
        team_id: options.teamId ?? FAKE_TEAM_ID,
        user_id: FAKE_BOT_USER_ID,
        bot_id: FAKE_BOT_ID,
        is_enterprise_install: false,
      });
    }

    const parsed = parseArguments(req.headers['content-type'], body, query);
    if ('error' in parsed) return answer(res, method, 200, { ok: false, error: parsed.error });
    const args = parsed.args;
    if (method === 'files.getUploadURLExternal') return getUploadUrl(res, args);
    if (method === 'files.completeUploadExternal') return completeUpload(res, args);
    if (method === 'conversations.open') {
      const users = typeof args.users === 'string' ? args.users.trim() : '';
      if (!/^[UW][A-Z0-9]{2,}$/.test(users)) return answer(res, method, 200, { ok: false, error: 'user_not_found' });
      return answer(res, method, 200, { ok: true, channel: { id: dmChannel(users) } });
    }
    const channel = typeof args.channel === 'string' ? args.channel.trim() : '';
    if (channel === '') return answer(res, method, 200, { ok: false, error: 'channel_not_found' });
    if (method === 'chat.postEphemeral') {
      const user = typeof args.user === 'string' ? args.user.trim() : '';
      const ephemeralText = typeof args.text === 'string' ? args.text : '';
      if (user === '') return answer(res, method, 200, { ok: false, error: 'user_not_in_channel' });
      if (ephemeralText.trim() === '') return answer(res, method, 200, { ok: false, error: 'no_text' });
      ephemerals.push({ channel, user, text: ephemeralText, at: new Date() });
      return answer(res, method, 200, { ok: true, message_ts: `${tsBase}.000200` });
    }
    const text = typeof args.text === 'string' ? args.text : '';
    let blocks = args.blocks;
    // Slack also takes blocks as a JSON string inside a JSON body.
    if (typeof blocks === 'string') {
      try {
        blocks = JSON.parse(blocks);
      } catch {
        return answer(res, method, 200, { ok: false, error: 'invalid_blocks_format' });
      }
    }
    if (blocks !== undefined && !Array.isArray(blocks)) {
      return answer(res, method, 200, { ok: false, error: 'invalid_blocks_format' });
    }
    if (text.trim() === '' && (blocks === undefined || blocks.length === 0)) {
      return answer(res, method, 200, { ok: false, error: 'no_text' });
    }
    if (text.length > MAX_TEXT_LENGTH) return answer(res, method, 200, { ok: false, error: 'msg_too_long' });

    tsCounter += 1;
    const ts = `${tsBase + tsCounter}.000100`;
    const threadTs = typeof args.thread_ts === 'string' ? args.thread_ts : undefined;
    messages.push({
      channel,
      text,
      ...(blocks !== undefined ? { blocks } : {}),
      ...(threadTs !== undefined ? { thread_ts: threadTs } : {}),
      ts,
      at: new Date(),
      raw: args,
      encoding: parsed.encoding,
    });
    options.onMessage?.(messages[messages.length - 1]!);
    return answer(res, method, 200, {
      ok: true,
      channel,
      ts,
      message: {
        type: 'message',
        subtype: 'bot_message',
        text,
        user: FAKE_BOT_USER_ID,
        bot_id: FAKE_BOT_ID,
        ts,
        ...(blocks !== undefined ? { blocks } : {}),
        ...(threadTs !== undefined ? { thread_ts: threadTs } : {}),
      },
    });
  }

  function getUploadUrl(res: ServerResponse, args: Record<string, unknown>) {
    const filename = typeof args.filename === 'string' ? args.filename.trim() : '';
    const length = Number(args.length);
    if (filename === '' || !Number.isInteger(length) || length < 1) {
      return answer(res, 'files.getUploadURLExternal', 200, { ok: false, error: 'invalid_arguments' });
    }
    fileCounter += 1;
    const fileId = `F0FAKE${String(fileCounter).padStart(5, '0')}`;
    pendingFiles.set(fileId, { filename, length });
    return answer(res, 'files.getUploadURLExternal', 200, { ok: true, upload_url: `${base}/upload/${fileId}`, file_id: fileId });
  }

  async function handleUpload(req: IncomingMessage, res: ServerResponse, fileId: string, body: Buffer) {
    const record = (status: number, error?: string) =>
      calls.push({ method: 'upload', status, at: new Date(), ...(error !== undefined ? { error } : {}) });
    const pending = pendingFiles.get(fileId);
    if (req.method !== 'POST' || !pending) {
      record(404, 'file_not_found');
      send(res, 404, 'file_not_found');
      return notify();
    }
    let bytes = body;
    // WebClient sends the file as multipart/form-data; a raw body (curl --data-binary) works too.
    const contentType = req.headers['content-type'] ?? '';
    if (contentType.startsWith('multipart/form-data')) {
      const form = await new Response(new Uint8Array(body), { headers: { 'content-type': contentType } }).formData();
      const file = [...form.values()].find((value) => typeof value !== 'string');
      bytes = file && typeof file !== 'string' ? Buffer.from(await file.arrayBuffer()) : Buffer.alloc(0);
    }
    if (bytes.length !== pending.length) {
      record(400, 'length_mismatch');
      send(res, 400, `length_mismatch: declared ${pending.length}, received ${bytes.length}`);
      return notify();
    }
    pending.bytes = bytes;
    record(200);
    send(res, 200, `OK - ${bytes.length}`);
    notify();
  }

  function completeUpload(res: ServerResponse, args: Record<string, unknown>) {
    const method = 'files.completeUploadExternal';
    let files: unknown = args.files;
    try {
      if (typeof files === 'string') files = JSON.parse(files);
    } catch {
      return answer(res, method, 200, { ok: false, error: 'invalid_arguments' });
    }
    if (!Array.isArray(files) || files.length === 0) return answer(res, method, 200, { ok: false, error: 'invalid_arguments' });
    const entries = files as { id?: unknown; title?: unknown }[];
    const done = entries.map((entry) => ({ entry, file: pendingFiles.get(String(entry.id)) }));
    if (done.some(({ file }) => !file?.bytes)) return answer(res, method, 200, { ok: false, error: 'file_not_found' });
    const channel = typeof args.channel_id === 'string' ? args.channel_id.trim() : '';
    const initialComment = typeof args.initial_comment === 'string' ? args.initial_comment : undefined;
    if (initialComment !== undefined && initialComment.length > MAX_TEXT_LENGTH) return answer(res, method, 200, { ok: false, error: 'msg_too_long' });
    let blocks = args.blocks;
    if (typeof blocks === 'string') {
      try {
        blocks = JSON.parse(blocks);
      } catch {
        return answer(res, method, 200, { ok: false, error: 'invalid_blocks_format' });
      }
    }
    const shared = done.map(({ entry, file }) => ({
      id: String(entry.id),
      title: typeof entry.title === 'string' ? entry.title : undefined,
      filename: file!.filename,
      bytes: file!.bytes!,
      url: `${base}/files/${String(entry.id)}/${encodeURIComponent(file!.filename)}`,
    }));
    for (const file of shared) pendingFiles.delete(file.id);
    if (channel !== '') {
      for (const file of shared) sharedFiles.set(file.id, file);
      const upload: CompletedUpload = {
        channel,
        initialComment,
        blocks: Array.isArray(blocks) ? blocks : undefined,
        threadTs: typeof args.thread_ts === 'string' ? args.thread_ts : undefined,
        files: shared,
        at: new Date(),
      };
      uploads.push(upload);
      options.onUpload?.(upload);
    }
    return answer(res, method, 200, {
      ok: true,
      files: shared.map((file) => ({
        id: file.id,
        name: file.filename,
        title: file.title ?? file.filename,
        size: file.bytes.length,
      })),
    });
  }

  function handleResponseUrl(req: IncomingMessage, res: ServerResponse, id: string, body: Buffer) {
    const record = (status: number, error?: string) =>
      calls.push({ method: 'response_url', status, at: new Date(), ...(error !== undefined ? { error } : {}) });
    if (req.method !== 'POST') {
      record(405);
      send(res, 405, 'method_not_allowed');
      return notify();
    }
    if (responseUrlStatus !== null) {
      record(responseUrlStatus);
      send(res, responseUrlStatus, 'fake Slack: response_url failure');
      return notify();
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(body.toString('utf8'));
    } catch {
      parsed = undefined;
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      record(400, 'invalid_payload');
      send(res, 400, 'invalid_payload');
      return notify();
    }
    const used = responseUses.get(id) ?? 0;
    if (used >= RESPONSE_URL_USES) {
      record(404, 'used_url');
      send(res, 404, 'used_url');
      return notify();
    }
    responseUses.set(id, used + 1);
    responses.push({ id, body: parsed as Record<string, unknown>, at: new Date() });
    record(200);
    send(res, 200, { ok: true });
    notify();
  }

  function serveFile(res: ServerResponse, id: string) {
    const file = sharedFiles.get(id);
    if (!file) return send(res, 404, 'file_not_found');
    const type = /\.png$/i.test(file.filename) ? 'image/png' : /\.svg$/i.test(file.filename) ? 'image/svg+xml' : 'application/octet-stream';
    res.writeHead(200, { 'content-type': type, 'content-length': file.bytes.length, 'x-content-type-options': 'nosniff' }).end(file.bytes);
  }

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) tooLarge = true;
      else chunks.push(chunk);
    });
    req.on('end', () => {
      if (tooLarge) return send(res, 413, 'request_too_large');
      const url = new URL(req.url ?? '/', 'http://fake-slack.invalid');
      const body = Buffer.concat(chunks);
      const api = /^\/api\/([A-Za-z0-9_.]+)$/.exec(url.pathname);
      if (api) {
        handleApi(req, res, api[1]!, body, url.searchParams).catch((error: unknown) => {
          if (!res.headersSent) send(res, 500, `fake Slack crashed: ${String(error)}`);
        });
        return;
      }
      const upload = /^\/upload\/([A-Za-z0-9_-]+)$/.exec(url.pathname);
      if (upload) {
        handleUpload(req, res, upload[1]!, body).catch((error: unknown) => {
          if (!res.headersSent) send(res, 500, `fake Slack crashed: ${String(error)}`);
        });
        return;
      }
      const hook = /^\/commands\/([A-Za-z0-9_-]+)$/.exec(url.pathname);
      if (hook) return handleResponseUrl(req, res, hook[1]!, body);
      const file = /^\/files\/([A-Za-z0-9_-]+)\/[^/]+$/.exec(url.pathname);
      if (file && req.method === 'GET') return serveFile(res, file[1]!);
      send(res, 404, 'not_found');
    });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const base = `http://127.0.0.1:${port}`;
  let responseCounter = 0;
  const socket = createFakeSocketMode(base, () => responseUrlFor(), { teamId: options.teamId, ...options.socket });
  server.on('upgrade', (req, upgraded, head) => socket.handleUpgrade(req, upgraded, head));
  function responseUrlFor(id?: string): string {
    responseCounter += 1;
    const name = id ?? `${Date.now()}${responseCounter}-${randomBytes(6).toString('hex')}`;
    if (!/^[A-Za-z0-9_-]+$/.test(name)) throw new Error(`fake Slack: response URL id "${name}" must be [A-Za-z0-9_-]+`);
    return `${base}/commands/${name}`;
  }

  function dmChannel(user: string): string {
    return `D${user.slice(1)}`;
  }

  function waitFor<T>(what: string, list: T[], count: number, timeoutMs: number): Promise<T[]> {
    return new Promise((resolve, reject) => {
      const check = () => {
        if (list.length < count) return false;
        cleanup();
        resolve(list.slice());
        return true;
      };
      const timer = setTimeout(() => {
        cleanup();
        const seen = calls.map((call) => `${call.method} ${call.status}${call.error ? ` ${call.error}` : ''}`);
        reject(
          new Error(
            `fake Slack: expected ${count} ${what} within ${timeoutMs} ms, got ${list.length}; calls so far: ${seen.join(', ') || 'none'}`,
          ),
        );
      }, timeoutMs);
      const cleanup = () => {
        clearTimeout(timer);
        waiters.delete(listener);
      };
      const listener = () => void check();
      if (!check()) waiters.add(listener);
    });
  }

  return {
    apiUrl: `${base}/api/`,
    botToken,
    socket,
    messages,
    calls,
    responses,
    uploads,
    ephemerals,
    waitForEphemerals: (count, timeoutMs = 5000) => waitFor('chat.postEphemeral messages', ephemerals, count, timeoutMs),
    directMessageChannel: dmChannel,
    failNext(count, failure, faultOptions = {}) {
      for (let i = 0; i < count; i += 1) queued.push({ failure, method: faultOptions.method });
    },
    failAlways(failure, faultOptions = {}) {
      always = failure === null ? null : { failure, method: faultOptions.method };
    },
    responseUrl: responseUrlFor,
    failResponseUrls(status) {
      responseUrlStatus = status;
    },
    waitForMessages: (count, timeoutMs = 5000) => waitFor('chat.postMessage messages', messages, count, timeoutMs),
    waitForResponses: (count, timeoutMs = 5000) => waitFor('response_url posts', responses, count, timeoutMs),
    waitForUploads: (count, timeoutMs = 5000) => waitFor('completed file uploads', uploads, count, timeoutMs),
    reset() {
      messages.length = 0;
      calls.length = 0;
      responses.length = 0;
      uploads.length = 0;
      ephemerals.length = 0;
      pendingFiles.clear();
      sharedFiles.clear();
      queued = [];
      always = null;
      responseUrlStatus = null;
      responseUses.clear();
      socket.reset();
    },
    async close() {
      socket.close();
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      // Keep-alive connections from fetch would hold close() open.
      for (const socket of sockets) socket.destroy();
      await closed;
    },
  };
}

function parseArguments(
  contentType: string | undefined,
  body: Buffer,
  query: URLSearchParams,
): { args: Record<string, unknown>; encoding: 'form' | 'json' } | { error: string } {
  const args: Record<string, unknown> = {};
  for (const [key, value] of query) args[key] = value;
  const type = (contentType ?? '').split(';')[0]!.trim().toLowerCase();
  if (type === 'application/json') {
    let parsed: unknown;
    try {
      parsed = JSON.parse(body.toString('utf8'));
    } catch {
      return { error: 'invalid_json' };
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return { error: 'json_not_object' };
    return { args: { ...args, ...(parsed as Record<string, unknown>) }, encoding: 'json' };
  }
  // Slack treats anything else as a form body (WebClient sends application/x-www-form-urlencoded).
  for (const [key, value] of new URLSearchParams(body.toString('utf8'))) {
    if (JSON_FIELDS.has(key)) {
      try {
        args[key] = JSON.parse(value);
      } catch {
        return { error: key === 'blocks' ? 'invalid_blocks_format' : `invalid_${key}` };
      }
    } else {
      args[key] = value;
    }
  }
  return { args, encoding: 'form' };
}
