// Every command the CLI knows, one line each. The file path under commands/ is the command path.
import type { CommandClass } from 'clipanion';
import { SetupCommand } from './setup.ts';
import { ServeInstallCommand } from './serve/install.ts';
import { ServeUninstallCommand } from './serve/uninstall.ts';
import { DoctorCommand } from './doctor.ts';
import { PreloadCommand } from './preload.ts';

export const commands: CommandClass[] = [
  SetupCommand,
  ServeInstallCommand,
  ServeUninstallCommand,
  PreloadCommand,
  DoctorCommand,
];
