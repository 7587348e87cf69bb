// The WHOOP collections a sync keeps, in the order its results list them. How each maps onto its table is
// in resources.ts; runs count, messages report and metrics label by these names.
export const RESOURCES = ['cycles', 'recoveries', 'sleeps', 'workouts'] as const;
export type Resource = (typeof RESOURCES)[number];
