import { Command, Option, UsageError } from 'clipanion';
import { BaseCommand } from './base.ts';
import { isPort } from './options.ts';

export class AllowCommand extends BaseCommand {
  static override paths = [['allow']];

  static override usage = Command.Usage({
    category: 'Policy',
    description: 'let agents run a command that the policy asks about or denies by default',
    details: `
      Appends an allow rule for exactly that command to \`~/.rampart/policies/user-overrides.yaml\` (created with mode 0600 in a 0700 directory; existing rules and comments are kept). An allow there beats ask, watch and the default action, but a deny in any policy still wins: the command prints what \`rampart test\` decides afterwards.

      \`--prefix\` allows the command and everything that starts with it (\`git\` and \`git *\`); a command ending in \` *\`, as in the suggestions printed with a denial, means the same. The policy globs have no escape syntax, so a command containing \`*\`, \`?\` or \`[\` is refused.

      The edited file is checked with the policy loader, together with the other files of its directory, before it replaces the old one (atomically); on any problem nothing is written. \`rampart serve\` reloads the directory when it changes; this command also asks a server on 127.0.0.1:\`--port\` to reload now and prints its answer.

      Run it yourself, in your own terminal: the built-in policy denies agents running \`rampart allow\`, and it refuses to run inside a session protected by librampart.so.
    `,
    examples: [
      ['Allow one exact command', '$0 allow "npm run deploy:staging"'],
      ['Allow every git command', '$0 allow --prefix git'],
      ['With a note for the audit log', '$0 allow "make release" --message "releases are fine on this box"'],
    ],
  });

  prefix = Option.Boolean('--prefix', false, { description: 'Allow every command that starts with the given words' });
  message = Option.String('--message', { description: 'Message recorded with decisions made by the rule' });
  tool = Option.String('--tool', 'exec', { description: 'Tool the rule applies to (only exec: rules match commands)' });
  file = Option.String('--file', { description: 'Policy file to edit (default: ~/.rampart/policies/user-overrides.yaml)' });
  port = Option.String('--port', '9090', { description: 'Port of the local rampart serve to ask for a reload', validator: isPort });
  command = Option.String({ name: 'command' });

  protected override async perform(): Promise<number> {
    if (this.tool.trim().toLowerCase() !== 'exec') {
      throw new UsageError(`--tool ${this.tool}: only exec is supported (the rule matches the command line)`);
    }
    const { runAllow, AllowInputError } = await import('../overrides/allow.ts');
    try {
      return await runAllow(
        {
          command: this.command,
          prefix: this.prefix,
          port: this.port,
          ...(this.message !== undefined ? { message: this.message } : {}),
          ...(this.file !== undefined ? { file: this.file } : {}),
        },
        this.context,
      );
    } catch (err) {
      if (err instanceof AllowInputError) throw new UsageError(err.message);
      throw err;
    }
  }
}
