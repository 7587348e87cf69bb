// What a sync of a window should have stored, computed from the fake WHOOP's data.
import type { FakeWhoop } from '../fakes/whoop-server.js';

export interface Window {
  start: Date;
  end: Date;
}

const inWindow = (start: string, window: Window) => {
  const t = Date.parse(start);
  return t >= window.start.getTime() && t < window.end.getTime();
};

export function expectedIds(whoop: Pick<FakeWhoop, 'data'>, userId: number, window: Window) {
  const sleepStart = new Map(whoop.data.sleeps.map((sleep) => [sleep.id, sleep.start]));
  return {
    cycles: whoop.data.cycles
      .filter((r) => r.user_id === userId && inWindow(r.start, window))
      .map((r) => String(r.id))
      .sort(),
    sleeps: whoop.data.sleeps.filter((r) => r.user_id === userId && inWindow(r.start, window)).map((r) => r.id).sort(),
    recoveries: whoop.data.recoveries
      .filter(
        (r) => r.user_id === userId && sleepStart.has(r.sleep_id) && inWindow(sleepStart.get(r.sleep_id)!, window),
      )
      .map((r) => String(r.cycle_id))
      .sort(),
    workouts: whoop.data.workouts
      .filter((r) => r.user_id === userId && inWindow(r.start, window))
      .map((r) => r.id)
      .sort(),
  };
}
