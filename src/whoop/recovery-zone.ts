/** WHOOP's recovery bands, as the WHOOP app colours a recovery score. */
export const RECOVERY_ZONES = [
  { name: 'green', label: 'Green', min: 67, max: 100, colour: '#16a34a' },
  { name: 'yellow', label: 'Yellow', min: 34, max: 66, colour: '#eab308' },
  { name: 'red', label: 'Red', min: 0, max: 33, colour: '#dc2626' },
] as const;

export type RecoveryZone = (typeof RECOVERY_ZONES)[number];

/** The zone of a recovery score; scores are whole percentages, fractional ones round like WHOOP's app. */
export function recoveryZone(score: number): RecoveryZone {
  const rounded = Math.round(score);
  return RECOVERY_ZONES.find((zone) => rounded >= zone.min) ?? RECOVERY_ZONES[2];
}
