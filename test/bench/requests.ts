// The request generator shared by both ack-path targets: every call yields a new, correctly signed
// `/sync` slash command (fresh trigger_id, so a fresh signature: the service refuses replays). The fields
// are those of test/support/environment.ts `slashCommandBody`; this module imports only the signer, so the
// load generator process stays small.
import { signSlackRequest } from '../../src/slack/signature.js';
import { slashCommandBody } from '../support/environment.js';

export interface SignedRequest {
  body: string;
  headers: Record<string, string>;
}

export function commandGenerator(signingSecret: string, text: string, prefix: string): () => SignedRequest {
  let counter = 0;
  return () => {
    counter++;
    const body = slashCommandBody(text, { trigger_id: `${prefix}.${process.pid}.${counter}.${Math.random().toString(36).slice(2, 10)}` });
    const timestamp = Math.floor(Date.now() / 1000);
    return {
      body,
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        'x-slack-request-timestamp': String(timestamp),
        'x-slack-signature': signSlackRequest(signingSecret, timestamp, body),
      },
    };
  };
}
