// Validators shared by every command that takes these flags (clipanion + typanion).
import * as t from 'typanion';
import { MODES } from '../mode.ts';

/** `--mode enforce|monitor|disabled` */
export const isMode = t.isEnum(MODES);

/** `--port N`, 1..65535, parsed into a number. */
export const isPort = t.cascade(t.isNumber(), [t.isInteger(), t.isInInclusiveRange(1, 65535)]);
