// Every command the CLI knows, one line each. The file path under commands/ is the command path.
import type { CommandClass } from 'clipanion';

export const commands: CommandClass[] = [];
