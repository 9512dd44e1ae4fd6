import { Command } from 'clipanion';
import { serverAddress } from '../client/settings.ts';
import { ServerClientCommand } from './base.ts';

export class DoctorCommand extends ServerClientCommand {
  static override paths = [['doctor']];

  static override usage = Command.Usage({
    category: 'Protection',
    description: 'check that rampart can protect commands on this machine',
    details: `
      Checks, in order: librampart.so is found and verified; the policy server answers /healthz; a token is available and the server accepts it; the policy allows \`true\` and denies \`rm -rf /\`; a live exec under preload is checked and allowed; a live \`rm -rf /\` under preload is blocked (it runs against a decoy \`rm\` that only leaves a marker, so nothing is harmed even if it got through).

      Prints one ✓ or ✗ line per check with what is wrong and how to fix it. Exits 1 if any check fails.

      The server address follows the same rules as \`rampart preload\`: \`--port\` > \`RAMPART_URL\` > http://127.0.0.1:9090. The token: \`--token\` > \`RAMPART_TOKEN\` > ~/.rampart/token.
    `,
    examples: [
      ['Check the default setup', 'rampart doctor'],
      ['Check a server on another port', 'rampart doctor --port 9191'],
    ],
  });

  protected override async perform(): Promise<number> {
    // Loaded on use: other commands should not pay for this one's modules at start-up.
    const { runDoctor } = await import('../doctor/doctor.ts');
    const out = this.context.stdout;
    const ok = await runDoctor(serverAddress(this.port, process.env), this.token, (result) => {
      out.write(`${result.ok ? '✓' : '✗'} ${result.title}: ${result.detail}\n`);
      if (result.fix) out.write(`    fix: ${result.fix}\n`);
    });
    out.write(ok ? 'All checks passed.\n' : 'Some checks failed.\n');
    return ok ? 0 : 1;
  }
}
