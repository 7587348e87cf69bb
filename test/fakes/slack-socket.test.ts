// The fake's Socket Mode must behave like Slack's as seen by any WebSocket client (here `ws`, not the
// service's library), or the Socket Mode tests prove nothing.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { startFakeSlack, type FakeSlack } from './slack-server.js';

describe('fake Slack Socket Mode', () => {
  let fake: FakeSlack;
  const sockets: WebSocket[] = [];
  beforeAll(async () => {
    fake = await startFakeSlack({ socket: { redeliverAfterMs: 200, maxDeliveries: 3 } });
  });
  afterEach(() => {
    for (const socket of sockets.splice(0)) socket.terminate();
    fake.reset();
  });
  afterAll(async () => fake?.close());

  const open = async (token: string | undefined) =>
    (await (await fetch(`${fake.apiUrl}apps.connections.open`, { method: 'POST', headers: token ? { authorization: `Bearer ${token}` } : {} })).json()) as {
      ok: boolean;
      url?: string;
      error?: string;
    };

  /** Connects like a client does and collects what the fake sends. */
  async function connect(): Promise<{ socket: WebSocket; messages: Array<Record<string, any>> }> {
    const { url } = await open(fake.socket.appToken);
    const socket = new WebSocket(url!);
    sockets.push(socket);
    const messages: Array<Record<string, any>> = [];
    socket.on('message', (data) => messages.push(JSON.parse(String(data))));
    await new Promise((resolve, reject) => socket.once('open', resolve).once('error', reject));
    await fake.socket.waitFor(() => messages.length > 0, 'hello');
    return { socket, messages };
  }

  it('answers apps.connections.open as Slack does for each kind of token', async () => {
    expect(await open(fake.socket.appToken)).toMatchObject({ ok: true, url: expect.stringMatching(/^ws:\/\/127\.0\.0\.1:\d+\/link\/\?ticket=/) });
    expect(await open(fake.botToken)).toEqual({ ok: false, error: 'not_allowed_token_type' });
    expect(await open('xapp-1-someone-else')).toEqual({ ok: false, error: 'invalid_auth' });
    expect(await open(undefined)).toEqual({ ok: false, error: 'not_authed' });
  });

  it('says hello, and lets each URL be used once', async () => {
    const { url } = await open(fake.socket.appToken);
    const first = new WebSocket(url!);
    sockets.push(first);
    const hello = await new Promise<Record<string, any>>((resolve) => first.once('message', (data) => resolve(JSON.parse(String(data)))));
    expect(hello).toMatchObject({ type: 'hello', num_connections: 1, connection_info: { app_id: 'A0APP00001' } });
    const again = new WebSocket(url!);
    sockets.push(again);
    const refused = await new Promise<string>((resolve) => again.once('unexpected-response', (_req, res) => resolve(String(res.statusCode))).once('error', (error) => resolve(error.message)));
    expect(refused).toBe('401');
  });

  it('sends an envelope again, with the same envelope_id, until its ack arrives, and checks the acks', async () => {
    const { socket, messages } = await connect();
    const acked = fake.socket.command('7');
    await fake.socket.waitFor(() => messages.length === 3, 'a delivery and a redelivery');
    const [, first, second] = messages;
    expect(first).toMatchObject({ type: 'slash_commands', accepts_response_payload: true, payload: { command: '/sync', text: '7', user_id: 'U0ALICE001' } });
    expect(second!.envelope_id).toBe(first!.envelope_id);
    socket.send(JSON.stringify({ envelope_id: 'not-an-envelope', payload: {} }));
    socket.send(JSON.stringify({ envelope_id: first!.envelope_id, payload: { text: 'ok' } }));
    expect(await acked).toMatchObject({ envelopeId: first!.envelope_id, payload: { text: 'ok' } });
    expect(fake.socket.problems).toEqual(['connection 2: ack for an unknown envelope not-an-envelope']);
    // Never acknowledged: given up after maxDeliveries.
    await expect(fake.socket.command('1')).rejects.toThrow(/delivered 3 times and never acknowledged/);
  });

  it('asks for a refresh with a disconnect message, then closes the connection', async () => {
    const { socket, messages } = await connect();
    const closed = new Promise((resolve) => socket.once('close', resolve));
    fake.socket.disconnect('refresh_requested', 100);
    await closed;
    expect(messages.at(-1)).toMatchObject({ type: 'disconnect', reason: 'refresh_requested' });
    await fake.socket.waitFor(() => fake.socket.connected === 0, 'the fake to see the close');
  });
});
