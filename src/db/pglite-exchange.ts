// One exchange with PGlite at the wire-protocol level: the messages in, the answer's bytes out.
import type { PGlite } from '@electric-sql/pglite';

/**
 * Runs protocol messages in PGlite and returns the answer's bytes, in a buffer of their own.
 *
 * Not execProtocolRaw(): besides the bytes, it parses every answer message into an object and keeps it in
 * a list that only PGlite's own execProtocol() empties. Used alone, that list grows by about 0.5 KB per
 * statement for as long as the database is open (50 MB after 100,000 statements), and every garbage
 * collection of this thread takes longer. The streaming variant only hands over the bytes. Its syncToFs
 * step does nothing for a data directory on disk (PGlite's NodeFS writes through), so it is skipped.
 */
export async function exchange(db: PGlite, message: Uint8Array): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let length = 0;
  // A chunk is a view of PGlite's memory, valid only during the call: copied at once.
  await db.execProtocolRawStream(message, {
    syncToFs: false,
    onRawData: (chunk) => {
      chunks.push(chunk.slice());
      length += chunk.length;
    },
  });
  if (chunks.length === 1) return chunks[0]!;
  const answer = new Uint8Array(length);
  let offset = 0;
  for (const chunk of chunks) {
    answer.set(chunk, offset);
    offset += chunk.length;
  }
  return answer;
}
