// Every test file: no service or CLI process it started printed a Node warning (see server-process.ts).
// Registered first, this afterAll runs after the file's own, which stop those processes.
import { afterAll, expect } from 'vitest';
import { nodeWarnings } from './server-process.js';

afterAll(() => {
  expect(nodeWarnings.splice(0), 'a service or CLI process printed a Node warning').toEqual([]);
});
