import { Command, Option } from 'clipanion';
import { BaseCommand } from '../base.ts';

export class ServeStatusCommand extends BaseCommand {
  static override paths = [['serve', 'status']];

  static override usage = Command.Usage({
    category: 'Server',
    description: 'show whether rampart serve is running and answering',
    details: `
      Reads \`~/.rampart/serve.pid\`, checks that the process is alive and that \`GET /healthz\`
      answers, and prints pid, URL, mode, version, uptime and audit directory. Exits 0 when the
      server is running and healthy, 1 otherwise.
    `,
    examples: [
      ['Is the server up?', '$0 serve status'],
      ['As JSON', '$0 serve status --json'],
    ],
  });

  json = Option.Boolean('--json', false, { description: 'Print one JSON object instead of text' });

  protected override async perform(): Promise<number> {
    const { serverStatus } = await import('../../server/control.ts');
    return serverStatus(this.json, this.context);
  }
}
