// Many calls, one database round trip: the ack path's writes under a burst of commands.

export interface BatchOptions {
  /** Items per call of the batch function at most. */
  maxBatch: number;
  /** Calls of the batch function in flight at once at most (each holds a database connection). */
  maxInFlight: number;
}

/**
 * Returns a function of one item that hands the items of one turn of the event loop, and those arriving while
 * earlier batches are in flight, to `run` together. `run` answers one result per item, in order; if it throws,
 * every call of that batch rejects. A single call waits for nothing but the next turn.
 */
export function batched<T, R>(
  run: (items: T[]) => Promise<R[]>,
  { maxBatch, maxInFlight }: BatchOptions,
): (item: T) => Promise<R> {
  type Waiting = { item: T; resolve: (result: R) => void; reject: (error: unknown) => void };
  const waiting: Waiting[] = [];
  let inFlight = 0;

  async function flush(): Promise<void> {
    const batch = waiting.splice(0, maxBatch);
    inFlight++;
    try {
      const results = await run(batch.map(({ item }) => item));
      if (results.length !== batch.length) throw new Error(`a batch of ${batch.length} gave ${results.length} results`);
      batch.forEach(({ resolve }, index) => resolve(results[index]!));
    } catch (error) {
      for (const { reject } of batch) reject(error);
    } finally {
      inFlight--;
      if (waiting.length > 0) void flush();
    }
  }

  return (item: T): Promise<R> =>
    new Promise((resolve, reject) => {
      waiting.push({ item, resolve, reject });
      // Let the calls of this turn of the event loop gather first.
      if (waiting.length === 1 && inFlight < maxInFlight) {
        setImmediate(() => void (waiting.length > 0 && inFlight < maxInFlight && flush()));
      }
    });
}
