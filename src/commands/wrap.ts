import { Command, Option, UsageError } from 'clipanion';
import { BaseCommand } from './base.ts';
import * as t from 'typanion';
import { isPort } from './options.ts';

export class WrapCommand extends BaseCommand {
  protected override errorPrefix = 'rampart wrap';
  static override paths = [['wrap']];

  static override usage = Command.Usage({
    category: 'Protection',
    description: 'run an agent that preload cannot reach (static binaries) with a checking $SHELL',
    details: `
      For agents that never load librampart.so (statically linked, such as Go built without cgo).
      The agent runs with \`$SHELL\`, and \`bash\` and \`sh\` early on PATH, pointing at a shim that
      asks the policy server about every \`-c\` command first: a denied one prints
      \`rampart: blocked — <message>\` and exits 126 without running; an allowed one runs in the real
      shell. In enforce mode a server that does not answer blocks (fail-closed).

      Without \`--port\` a policy server is started inside this process on a random 127.0.0.1 port
      with a random token (\`--token\` sets it), the built-in policy (\`--config\` replaces it), and
      an audit log in \`~/.rampart/audit/wrap-<pid>\` (\`--audit-dir\`). With \`--port\`, the
      \`rampart serve\` listening there is used, with \`--token\`, \`RAMPART_TOKEN\` or ~/.rampart/token.

      When librampart.so is installed, the agent's environment also preloads it, so the programs
      those shells (and any other dynamic program the agent starts) run are checked as well.
      On exit: \`rampart: N commands checked, N blocked\` on stderr, and the agent's exit code.
    `,
    examples: [
      ['Protect a static agent binary', '$0 wrap -- ./agent'],
      ['Log only', '$0 wrap --mode monitor -- ./agent --task build'],
      ['Use a running rampart serve', '$0 wrap --port 9090 -- ./agent'],
    ],
  });

  mode = Option.String('--mode', 'enforce', {
    description: 'enforce (block denied commands) or monitor (only log them)',
    validator: t.isEnum(['enforce', 'monitor'] as const),
  });
  port = Option.String('--port', { description: 'Use the rampart serve on this port instead of starting one', validator: isPort });
  token = Option.String('--token', { description: 'Auth token (default: random, or RAMPART_TOKEN / ~/.rampart/token with --port)' });
  config = Option.String('--config', { description: 'Policy file for the server wrap starts (default: the built-in policy)' });
  auditDir = Option.String('--audit-dir', { description: 'Audit log directory for the server wrap starts' });
  command = Option.Proxy({ name: 'command', required: 1 });

  protected override async perform(): Promise<number> {
    const { runWrapped } = await import('../wrap/session.ts');
    const command = this.command[0] === '--' ? this.command.slice(1) : this.command;
    if (command.length === 0 || command[0] === '') {
      throw new UsageError('Missing the command to run: rampart wrap [flags] -- <command> [args...]');
    }
    if (this.port !== undefined && (this.config !== undefined || this.auditDir !== undefined)) {
      throw new UsageError('--config and --audit-dir are for the server wrap starts; with --port the running server decides');
    }
    return runWrapped({
      mode: this.mode,
      port: this.port === undefined ? undefined : Number(this.port),
      token: this.token,
      config: this.config,
      auditDir: this.auditDir,
      command,
      env: process.env,
      cwd: process.cwd(),
      stderr: this.context.stderr,
    });
  }
}
