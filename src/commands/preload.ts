import { Command, Option, UsageError } from 'clipanion';
import { DEFAULT_AGENT, flagOrEnv, resolveFailOpen, resolveMode, serverAddress } from '../client/settings.ts';
import { ServerClientCommand } from './base.ts';
import { isMode } from './options.ts';

export class PreloadCommand extends ServerClientCommand {
  static override paths = [['preload']];

  static override usage = Command.Usage({
    category: 'Protection',
    description: 'run a command with librampart.so preloaded so every process it starts is checked',
    details: `
      Runs the command with \`LD_PRELOAD=librampart.so\`: every program the command (or anything it starts) tries to run is first checked against the policy of \`rampart serve\`, and a denied one fails with EPERM and one stderr line \`rampart: blocked — <message>\`. The command itself is checked before it starts.

      If no server answers at the default address (http://127.0.0.1:9090) and neither \`--port\` nor \`RAMPART_URL\` is given, \`rampart serve\` is started in the background with the built-in policy (it keeps running after the command ends; \`--no-serve\` turns this off). An explicit address that does not answer only gets a warning; the library then follows \`--fail-open\`.

      Precedence: server URL: \`--port\` > \`RAMPART_URL\` > http://127.0.0.1:9090. Token: \`--token\` > \`RAMPART_TOKEN\` > ~/.rampart/token. \`--mode\`, \`--fail-open\`, \`--agent\`, \`--session\` > the exported \`RAMPART_MODE\`, \`RAMPART_FAIL_OPEN\`, \`RAMPART_AGENT\`, \`RAMPART_SESSION\` > the defaults. \`--debug\` sets \`RAMPART_DEBUG=1\`. \`--fail-open\` accepts \`--fail-open\`, \`--no-fail-open\`, \`--fail-open=true\`, \`--fail-open=false\` and \`--fail-open false\` (a bare \`--fail-open\` followed by the word true or false takes it as its value).

      Exit codes: the command's own exit code; 126 when the command is blocked by policy (or cannot be executed); 127 when it does not exist; 128+N when signal N killed it; 1 when rampart itself cannot set up (library missing, bad flags). SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2 and SIGWINCH are passed on to the command.

      Statically linked and setuid programs never load the library: they get a warning pointing to \`rampart wrap\`, and are refused in enforce mode with \`--fail-open=false\`.
    `,
    examples: [
      ['Protect a Node.js agent', 'rampart preload -- node agent.js'],
      ['Protect a Python agent with a named session', 'rampart preload --session research-run-1 -- python agent.py'],
      ['Log only, never block', 'rampart preload --mode monitor -- risky-tool'],
      ['Deny everything if the server is unreachable', 'rampart preload --fail-open=false -- agent'],
      ['Print what rampart and the library do', 'rampart preload --debug -- python agent.py'],
    ],
  });

  mode = Option.String('--mode', { description: 'Mode: enforce, monitor, or disabled (default: enforce)', validator: isMode });
  failOpen = Option.String('--fail-open', {
    tolerateBoolean: true,
    description: 'Allow commands if Rampart is unreachable (fail-safe mode) (default: true)',
  });
  agent = Option.String('--agent', { description: 'Agent name for audit events (default: preload)' });
  session = Option.String('--session', { description: 'Session ID for audit (default: preload-{pid})' });
  debug = Option.Boolean('--debug', false, { description: 'Enable debug logging in the library (default: false)' });
  serve = Option.Boolean('--serve', true, { description: 'Start rampart serve in the background if none answers at the default address (--no-serve: never)' });
  command = Option.Proxy({ name: 'command', required: 1 });

  protected override async perform(): Promise<number> {
    const env = process.env;
    const { failOpen, command } = resolveFailOpen(this.failOpen, this.command, env);
    const mode = resolveMode(this.mode, env);
    const agent = flagOrEnv(this.agent, env.RAMPART_AGENT, DEFAULT_AGENT);
    const session = flagOrEnv(this.session, env.RAMPART_SESSION, `preload-${process.pid}`);
    if (command.length === 0 || command[0] === '') throw new UsageError('Missing the command to run: rampart preload [flags] -- <command> [args...]');
    if (agent.trim() === '') throw new UsageError('Invalid value for --agent: must not be empty');
    if (this.session !== undefined && this.session.trim() === '') throw new UsageError('Invalid value for --session: must not be empty');
    // Loaded on use: other commands should not pay for this one's modules at start-up.
    const { runPreload } = await import('../preload/launch.ts');
    return runPreload(
      {
        command,
        address: serverAddress(this.port, env),
        tokenFlag: this.token,
        mode,
        failOpen,
        agent,
        session,
        debug: this.debug,
        autostart: this.serve,
      },
      this.context.stderr,
    );
  }
}
