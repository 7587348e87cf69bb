// schedule_slots: one row per slot of a schedule (a sync schedule, the digest, the weekly report) that a
// process claimed, so each slot runs once across replicas. The only module that writes it.
import type { Database } from '../db/database.js';

export function scheduleSlots(db: Database) {
  return {
    /** Claims a slot; false when another process claimed it first. */
    claim: async (schedule: string, slot: Date): Promise<boolean> =>
      (await db.execute(`INSERT INTO schedule_slots (schedule, slot) VALUES ($1, $2) ON CONFLICT DO NOTHING`, [schedule, slot])) === 1,
    /** Notes the run a claimed slot recorded. */
    ran: (schedule: string, slot: Date, runId: number) =>
      db.execute(`UPDATE schedule_slots SET run_id = $3 WHERE schedule = $1 AND slot = $2`, [schedule, slot, runId]),
  };
}

export type ScheduleSlots = ReturnType<typeof scheduleSlots>;
