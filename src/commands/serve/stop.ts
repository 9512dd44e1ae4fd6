import { Command } from 'clipanion';
import { BaseCommand } from '../base.ts';

export class ServeStopCommand extends BaseCommand {
  static override paths = [['serve', 'stop']];

  static override usage = Command.Usage({
    category: 'Server',
    description: 'stop the rampart serve recorded in ~/.rampart/serve.pid',
    details: `
      Sends SIGTERM to the server named in \`~/.rampart/serve.pid\` (written by every
      \`rampart serve\`, foreground or \`--background\`), waits for it to exit (SIGKILL after 10 s)
      and removes the pid file. Exits 1 when no server is running.
    `,
    examples: [['Stop the background server', '$0 serve stop']],
  });

  protected override async perform(): Promise<number> {
    const { stopServer } = await import('../../server/control.ts');
    return stopServer(this.context);
  }
}
