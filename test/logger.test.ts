// Logs on a terminal: the service started the way a person starts it, with its output on a pseudo-terminal
// (util-linux `script`), so the logger takes its interactive (pino-pretty) form.
import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SERVER_ENTRY } from './support/compiled.js';
import { createTestDatabase, type TestDatabase } from './support/database.js';

// eslint-disable-next-line no-control-regex
const plain = (text: string) => text.replace(/\x1b\[[0-9;]*m/g, '').replace(/\r/g, '');

describe('logs on a terminal', () => {
  let testDb: TestDatabase;
  beforeAll(async () => {
    testDb = await createTestDatabase();
  });
  afterAll(async () => testDb?.drop());

  it('write one line per request', async () => {
    const command = [process.execPath, SERVER_ENTRY].map((word) => `'${word}'`).join(' ');
    const child = spawn('script', ['-qfec', command, '/dev/null'], {
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', HOST: '127.0.0.1', PORT: '0', TERM: 'dumb', ...testDb.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise((resolve) => child.on('exit', resolve));
    try {
      let url: string | undefined;
      for (let waited = 0; !url && waited < 60_000; waited += 100) {
        url = /Server listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(plain(output))?.[1];
        if (!url) await new Promise((resolve) => setTimeout(resolve, 100));
      }
      expect(url, plain(output)).toBeDefined();
      expect((await fetch(`${url}/no-such-page?code=secret`)).status).toBe(404);
      let lines: string[] = [];
      for (let waited = 0; waited < 10_000; waited += 100) {
        lines = plain(output).split('\n');
        if (lines.some((line) => line.includes('request completed'))) break;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      const at = lines.findIndex((line) => line.includes('request completed'));
      expect(lines[at]).toMatch(/^\[[^\]]+\] INFO: request completed: GET \/no-such-page 404 in [\d.]+ ms \(req-\d+\)$/);
      // Nothing of the request spills onto following lines (another entry, such as the worker's, may follow).
      expect(lines[at + 1] ?? '').not.toMatch(/^\s+\S/);
    } finally {
      child.kill('SIGTERM');
      await exited;
    }
  }, 90_000);
});
