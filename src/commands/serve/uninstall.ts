import fs from 'node:fs';
import { Command } from 'clipanion';
import { BaseCommand } from '../base.ts';
import { isOurServiceFile, managerAvailable, managerCommands, runManager, serviceFile, serviceKind } from '../../setup/service.ts';

export class ServeUninstallCommand extends BaseCommand {
  static override paths = [['serve', 'uninstall']];

  static override usage = Command.Usage({
    category: 'Server',
    description: 'stop and remove the service written by rampart serve install',
    details: `
      Stops and disables the service when the user service manager answers, then removes the
      systemd unit or LaunchAgent. A file that rampart did not write is left alone.
    `,
    examples: [['Remove the background server', '$0 serve uninstall']],
  });

  protected override async perform(): Promise<number> {
    const { stdout, stderr } = this.context;
    const kind = serviceKind();
    if (!kind) {
      stderr.write(`rampart: serve uninstall supports Linux (systemd) and macOS (launchd), not ${process.platform}\n`);
      return 1;
    }
    const file = serviceFile(kind);
    if (!fs.existsSync(file)) {
      stdout.write(`no service installed (${file} does not exist)\n`);
      return 0;
    }
    if (!isOurServiceFile(file)) {
      stderr.write(`rampart: ${file} was not written by rampart serve install; left it alone\n`);
      return 1;
    }
    const available = managerAvailable(kind);
    if (available.ok) {
      for (const argv of managerCommands(kind, 'stop', file)) {
        const step = runManager(argv);
        // Stopping a service that is not loaded fails; removing the file is still right.
        stdout.write(step.ok ? `ran: ${step.display}\n` : `\`${step.display}\` failed (${step.reason}); removing the file anyway\n`);
      }
    } else {
      stdout.write(`not stopped: \`${available.display}\` does not work here (${available.reason})\n`);
    }
    fs.rmSync(file);
    stdout.write(`removed ${file}\n`);
    if (kind === 'systemd' && available.ok) runManager(['systemctl', '--user', 'daemon-reload']);
    return 0;
  }
}
