import { Command, Option } from 'clipanion';
import { BaseCommand } from './base.ts';
import type { ServeFlags } from '../server/serve.ts';
import { isMode, isPort } from './options.ts';

export class ServeCommand extends BaseCommand {
  static override paths = [['serve']];

  static override usage = Command.Usage({
    category: 'Server',
    description: 'run the policy server that decides every checked command',
    details: `
      Answers \`POST /v1/preflight/exec\` (what librampart.so asks before every exec),
      \`POST /v1/tool/{tool}\`, \`GET /healthz\`, \`GET /v1/status\` and \`POST /v1/policy/reload\`
      on 127.0.0.1:9090. Every /v1 request needs \`Authorization: Bearer <token>\`: \`--token\`,
      else \`RAMPART_TOKEN\`, else \`~/.rampart/token\` (generated, mode 0600, on first start).

      Without \`--config\` the built-in policy is used, plus every \`~/.rampart/policies/*.yaml\`.
      Policy files are watched: a change reloads them; a file that fails to load is reported with
      file and line, and the old policies stay.

      Every decision is written to \`<audit-dir>/YYYY-MM-DD.jsonl\` (hash-chained, credentials
      redacted) before it is answered; \`rampart audit verify\` checks the chain.

      \`--background\` starts the server detached (output appended to \`~/.rampart/serve.log\`),
      waits until it answers and returns; \`rampart serve status\` and \`rampart serve stop\`
      manage it. One server per \`~/.rampart\`.
    `,
    examples: [
      ['Serve the built-in policy on 127.0.0.1:9090', '$0 serve'],
      ['Serve a policy file in monitor mode on another port', '$0 serve --port 9191 --mode monitor --config ./rampart.yaml'],
      ['Start in the background', '$0 serve --background'],
    ],
  });

  addr = Option.String('--addr', '127.0.0.1', { description: 'IP address to listen on' });
  port = Option.String('--port', '9090', { description: 'Port to listen on', validator: isPort });
  mode = Option.String('--mode', 'enforce', {
    description: 'enforce (deny blocks), monitor (log only) or disabled (allow all, still audited)',
    validator: isMode,
  });
  config = Option.String('--config', { description: 'Policy file (default: the built-in policy + ~/.rampart/policies)' });
  configDir = Option.String('--config-dir', { description: 'Directory of additional policy files (*.yaml, *.yml)' });
  auditDir = Option.String('--audit-dir', { description: 'Where the audit log goes (default: ~/.rampart/audit)' });
  token = Option.String('--token', { description: 'Bearer token clients must send (default: RAMPART_TOKEN, then ~/.rampart/token)' });
  background = Option.Boolean('--background,-b', false, { description: 'Start detached, wait until it answers, then return' });

  protected override async perform(): Promise<number> {
    const { runServe } = await import('../server/serve.ts');
    const flags: ServeFlags = {
      addr: this.addr,
      port: this.port,
      mode: this.mode,
      config: this.config,
      configDir: this.configDir,
      auditDir: this.auditDir,
      token: this.token,
    };
    return runServe(flags, this.background, this.context);
  }
}
