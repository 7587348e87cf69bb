// Reading and resetting the stored WHOOP records of a test database.
import type { Database } from '../../src/db/database.js';

export async function storedIds(db: Database, userId: bigint) {
  const { prisma } = db;
  return {
    cycles: (await prisma.whoopCycle.findMany({ where: { userId }, select: { id: true } }))
      .map((r) => String(r.id))
      .sort(),
    sleeps: (await prisma.whoopSleep.findMany({ where: { userId }, select: { id: true } })).map((r) => r.id).sort(),
    recoveries: (await prisma.whoopRecovery.findMany({ where: { userId }, select: { cycleId: true } }))
      .map((r) => String(r.cycleId))
      .sort(),
    workouts: (await prisma.whoopWorkout.findMany({ where: { userId }, select: { id: true } })).map((r) => r.id).sort(),
  };
}

/** Empties the record tables and the run history (the connected account stays). */
export async function clearRecords(db: Database): Promise<void> {
  await db.prisma.$executeRawUnsafe('TRUNCATE whoop_cycles, whoop_recoveries, whoop_sleeps, whoop_workouts, sync_runs');
}
