// The three modes of the guard, shared by the library's settings, `rampart serve` and `rampart wrap`.
export const MODES = ['enforce', 'monitor', 'disabled'] as const;
export type Mode = (typeof MODES)[number];
