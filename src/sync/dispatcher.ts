// Runs recorded syncs in the background and reports each result. Every acknowledged /sync ends in
// exactly one result message: runs left unfinished or unreported by a process that died are picked up
// at the next start.
import type { FastifyBaseLogger } from 'fastify';
import type { Reporter } from '../slack/reporter.js';
import { InFlight } from '../util/in-flight.js';
import { outcomeOf, SyncInterruptedError, type SyncEngine } from './engine.js';
import type { SyncRuns } from './runs.js';

/** Older runs are history, not work: a result a week late helps nobody. */
const RECOVERY_HORIZON_MS = 7 * 86_400_000;

export class RunDispatcher {
  private readonly inFlight = new InFlight();
  private stopping = false;

  constructor(
    private readonly engine: SyncEngine,
    private readonly runs: SyncRuns,
    private readonly reporter: Reporter,
    private readonly log: FastifyBaseLogger,
  ) {}

  /** Executes a recorded run (after any run in progress) and reports its result. Never rejects. */
  dispatch(runId: number): Promise<void> {
    return this.inFlight.track(this.run(runId));
  }

  /** Starts no further result messages (runs already executing still finish). */
  stop(): void {
    this.stopping = true;
    this.reporter.stop();
  }

  /** Resolves true once every dispatched run was executed and reported, or false after `timeoutMs`. */
  idle(timeoutMs: number): Promise<boolean> {
    return this.inFlight.idle(timeoutMs);
  }

  private run(runId: number): Promise<void> {
    return this.engine
      .execute(runId)
      // Also report the runs this execution served for a process that is gone. Reports are claimed in the
      // database, so a run reported elsewhere is not reported twice.
      .then(async (outcome) => {
        for (const each of [outcome, ...(outcome.joined ?? [])]) {
          // Shutting down: what is left is reported by the next start (see recover()).
          if (this.stopping) return;
          await this.reporter.report(each);
        }
      })
      .catch((error: Error) => {
        if (error instanceof SyncInterruptedError) return;
        this.log.error({ err: error, runId }, `sync run ${runId} could not be completed`);
      });
  }

  /** Finishes what a previous process acknowledged but did not complete. */
  async recover(): Promise<void> {
    const since = new Date(Date.now() - RECOVERY_HORIZON_MS);
    const unreported = await this.runs.unreported(since);
    for (const run of unreported) await this.reporter.report(outcomeOf(run));
    const unfinished = await this.runs.unfinished(since);
    if (unfinished.length > 0) {
      this.log.info({ runs: unfinished.map((run) => run.id) }, `resuming ${unfinished.length} sync run(s) left unfinished`);
    }
    await Promise.all(unfinished.map((run) => this.dispatch(run.id)));
  }
}
