// Validators shared by every command that takes these flags (clipanion + typanion).
import * as t from 'typanion';

export const MODES = ['enforce', 'monitor', 'disabled'] as const;
export type Mode = (typeof MODES)[number];

/** `--mode enforce|monitor|disabled` */
export const isMode = t.isEnum(MODES);

/** `--port N`, 1..65535, parsed into a number. */
export const isPort = t.cascade(t.isNumber(), [t.isInteger(), t.isInInclusiveRange(1, 65535)]);
