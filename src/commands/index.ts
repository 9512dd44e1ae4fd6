// Every command the CLI knows, one line each. The file path under commands/ is the command path.
import type { CommandClass } from 'clipanion';
import { SetupCommand } from './setup.ts';
import { ServeInstallCommand } from './serve/install.ts';
import { ServeUninstallCommand } from './serve/uninstall.ts';
import { WrapCommand } from './wrap.ts';
import { DoctorCommand } from './doctor.ts';
import { PreloadCommand } from './preload.ts';
import { LibPathCommand } from './lib/path.ts';
import { LibVerifyCommand } from './lib/verify.ts';
import { LibInstallCommand } from './lib/install.ts';
import { TestCommand } from './test.ts';
import { BenchCommand } from './bench.ts';
import { ServeCommand } from './serve.ts';
import { ServeStopCommand } from './serve/stop.ts';
import { ServeStatusCommand } from './serve/status.ts';
import { AuditVerifyCommand } from './audit/verify.ts';
import { AuditTailCommand } from './audit/tail.ts';
import { AllowCommand } from './allow.ts';

export const commands: CommandClass[] = [
  SetupCommand,
  ServeInstallCommand,
  ServeUninstallCommand,
  WrapCommand,
  PreloadCommand,
  DoctorCommand,
  LibPathCommand,
  LibVerifyCommand,
  LibInstallCommand,
  TestCommand,
  BenchCommand,
  ServeCommand,
  ServeStopCommand,
  ServeStatusCommand,
  AuditVerifyCommand,
  AuditTailCommand,
  AllowCommand,
];
