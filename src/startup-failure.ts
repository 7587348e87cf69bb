// One line a person can act on for whatever a start-up step threw: an Error's message, a system error's
// code with the file it concerns and what to do about it, and never "[object Object]" for a value that is
// not an Error.
import { inspect } from 'node:util';

const SYSTEM_ADVICE: Record<string, string> = {
  ENOSPC: 'the disk is full: free some space (the embedded database lives in DATA_DIR) and start again',
  EDQUOT: 'the disk quota is exhausted: free some space (the embedded database lives in DATA_DIR) and start again',
  EACCES: 'permission denied: check that the user running whoop-sync owns DATA_DIR (or can write to it)',
  EPERM: 'operation not permitted: check that the user running whoop-sync owns DATA_DIR (or can write to it)',
  EROFS: 'the file system is read-only: point DATA_DIR at a writable directory',
  ENOTDIR: 'a path component is a file, not a directory: check DATA_DIR',
  EADDRINUSE: 'the address is already in use: stop the other process or choose another PORT',
};

export function describeStartupFailure(error: unknown): string {
  if (error instanceof Error) {
    const { code, path } = error as NodeJS.ErrnoException;
    const advice = code ? SYSTEM_ADVICE[code] : undefined;
    const message = error.message || code || error.name;
    if (!advice) return message;
    return `${advice}${path && !message.includes(path) ? ` (${path})` : ''}. ${message}`;
  }
  if (error === undefined || error === null) return `an unknown error (the value thrown was ${String(error)}); run with LOG_LEVEL=debug for details`;
  if (typeof error === 'string') return error || 'an unknown error (an empty message was thrown)';
  const text = inspect(error, { depth: 3, breakLength: Infinity });
  const code = (error as { code?: unknown }).code;
  const advice = typeof code === 'string' ? SYSTEM_ADVICE[code] : undefined;
  return advice ? `${advice}. ${text}` : `unexpected error: ${text}`;
}
