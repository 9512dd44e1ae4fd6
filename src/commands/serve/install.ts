import fs from 'node:fs';
import path from 'node:path';
import { Command, Option, UsageError } from 'clipanion';
import { BaseCommand } from '../base.ts';
import { isMode, isPort } from '../options.ts';
import { rampartHome } from '../../util/paths.ts';
import {
  isOurServiceFile,
  launchdPlist,
  managerAvailable,
  managerCommands,
  runManager,
  serviceFile,
  serviceKind,
  systemdUnit,
  writeServiceFile,
  type ServeInvocation,
} from '../../setup/service.ts';

export class ServeInstallCommand extends BaseCommand {
  static override paths = [['serve', 'install']];

  static override usage = Command.Usage({
    category: 'Server',
    description: 'run rampart serve as a per-user background service',
    details: `
      Writes a systemd user unit (\`~/.config/systemd/user/rampart.service\`, Linux) or a LaunchAgent
      (\`~/Library/LaunchAgents/dev.rampart.serve.plist\`, macOS) that runs \`rampart serve\` with this
      node and this rampart, on the given port, then enables and starts it when the user service
      manager answers. Otherwise it says why and prints the commands to run later.

      The token is not written into the file: the service reads \`~/.rampart/token\` (created on
      its first start). \`rampart preload --port\` must match \`--port\`.
    `,
    examples: [
      ['Install and start the server on the default port', '$0 serve install'],
      ['Another port, monitor mode, a policy file', '$0 serve install --port 9191 --mode monitor --config ~/policy.yaml'],
      ['Only write the file', '$0 serve install --no-start'],
    ],
  });

  port = Option.String('--port', '9090', { description: 'Port the server listens on (127.0.0.1)', validator: isPort });
  mode = Option.String('--mode', 'enforce', { description: 'enforce, monitor or disabled', validator: isMode });
  config = Option.String('--config', { description: 'Policy file (default: the built-in policy)' });
  force = Option.Boolean('--force', false, { description: 'Replace a service file that rampart did not write' });
  start = Option.Boolean('--start', true, { description: 'Enable and start the service (--no-start: only write the file)' });

  protected override async perform(): Promise<number> {
    const { stdout, stderr } = this.context;
    const kind = serviceKind();
    if (!kind) {
      stderr.write(`rampart: serve install supports Linux (systemd) and macOS (launchd), not ${process.platform}\n`);
      return 1;
    }
    let config: string | undefined;
    if (this.config !== undefined) {
      config = path.resolve(this.config);
      try {
        if (!fs.statSync(config).isFile()) throw new Error('not a file');
        fs.accessSync(config, fs.constants.R_OK);
      } catch {
        throw new UsageError(`--config ${this.config}: not a readable file`);
      }
    }

    const invocation: ServeInvocation = {
      node: process.execPath,
      cli: fs.realpathSync(process.argv[1] ?? ''),
      port: Number(this.port),
      mode: this.mode,
      config,
    };
    const file = serviceFile(kind);
    if (fs.existsSync(file) && !isOurServiceFile(file) && !this.force) {
      stderr.write(`rampart: ${file} exists and was not written by rampart; left it alone (--force replaces it)\n`);
      return 1;
    }
    const content = kind === 'systemd' ? systemdUnit(invocation) : launchdPlist(invocation, path.join(rampartHome(), 'serve.log'));
    writeServiceFile(file, content);
    stdout.write(
      `wrote ${file}: rampart serve on 127.0.0.1:${invocation.port}, mode ${invocation.mode}` + `${config ? `, policy ${config}` : ', built-in policy'}\n`,
    );

    const commands = managerCommands(kind, 'start', file);
    const howToStart = commands.map((argv) => `  ${argv.join(' ')}`).join('\n');
    if (!this.start) {
      stdout.write(`start it with:\n${howToStart}\n`);
      return 0;
    }
    const available = managerAvailable(kind);
    if (!available.ok) {
      stdout.write(`not started: \`${available.display}\` does not work here (${available.reason});` + ` once it does, start it with:\n${howToStart}\n`);
      return 0;
    }
    for (const argv of commands) {
      const step = runManager(argv);
      if (!step.ok) {
        stderr.write(`rampart: \`${step.display}\` failed: ${step.reason}\n`);
        return 1;
      }
    }
    stdout.write(`started: ${commands.map((argv) => argv.join(' ')).join(' && ')}\n` + `check it: curl http://127.0.0.1:${invocation.port}/healthz\n`);
    return 0;
  }
}
