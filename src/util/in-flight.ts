// Keeps track of background work so that shutdown can wait for it.
import { setTimeout as sleep } from 'node:timers/promises';

export class InFlight {
  private readonly active = new Set<Promise<unknown>>();

  track<T>(work: Promise<T>): Promise<T> {
    this.active.add(work);
    const forget = () => this.active.delete(work);
    work.then(forget, forget);
    return work;
  }

  /** Resolves true once nothing is in flight (including work started meanwhile), or false after `timeoutMs`. */
  async idle(timeoutMs: number): Promise<boolean> {
    const drained = async () => {
      while (this.active.size > 0) await Promise.allSettled([...this.active]);
      return true;
    };
    return Promise.race([drained(), sleep(timeoutMs, false, { ref: false })]);
  }
}
