import fs from 'node:fs';
import { Command, Option, UsageError } from 'clipanion';
import { BaseCommand } from './base.ts';

export class SetupCommand extends BaseCommand {
  static override paths = [['setup']];

  static override usage = Command.Usage({
    category: 'Agents',
    description: 'install a wrapper that always runs an agent under rampart preload',
    details: `
      Writes \`~/.local/bin/<agent>\`, a small script that runs the real \`<agent>\` under
      \`rampart preload --agent <agent>\`. The real program is looked up on PATH each time the
      wrapper runs, skipping \`~/.local/bin\` and any other rampart wrapper, so the wrapper never
      runs itself; \`--bin\` fixes it instead.

      An existing \`~/.local/bin/<agent>\` that is not a rampart wrapper is left alone unless
      \`--force\` is given (it is then kept under \`~/.rampart/setup/\` and \`--remove\` puts it back).
      \`--remove\` removes only a rampart wrapper. Setup refuses while librampart.so is missing.
    `,
    examples: [
      ['Protect Codex CLI', '$0 setup codex'],
      ['Wrap a program that is not on PATH', '$0 setup codex --bin /opt/codex/bin/codex'],
      ['Remove the wrapper', '$0 setup codex --remove'],
    ],
  });

  agent = Option.String({ name: 'agent' });

  bin = Option.String('--bin', {
    description: 'The real program to run (default: the first <agent> on PATH that is not a wrapper)',
  });

  force = Option.Boolean('--force', false, {
    description: 'Replace an existing ~/.local/bin/<agent> that is not a rampart wrapper (kept for --remove)',
  });

  remove = Option.Boolean('--remove', false, {
    description: 'Remove the wrapper (and put back what --force replaced)',
  });

  protected override async perform(): Promise<number> {
    const { checkLibrary, libraryTroubleshooting } = await import('../client/library.ts');
    const { installWrapper, removeWrapper } = await import('../setup/install.ts');
    const { AGENT_NAME, pathAdvice } = await import('../setup/wrapper.ts');
    const { stdout, stderr } = this.context;
    if (!AGENT_NAME.test(this.agent)) {
      throw new UsageError(`agent name ${JSON.stringify(this.agent)}: use letters, digits, '.', '_' or '-' (it becomes ~/.local/bin/<agent>)`);
    }
    if (this.remove && (this.bin !== undefined || this.force)) {
      throw new UsageError('--remove takes no --bin or --force');
    }
    // A refusal (SetupRefusal) is one line and exit 1 (base.ts).
    if (this.remove) {
      const result = removeWrapper(this.agent);
      if (!result.removed && !result.restored) stdout.write(`no rampart wrapper at ${result.path}; nothing to remove\n`);
      if (result.removed) stdout.write(`removed the rampart wrapper ${result.path}\n`);
      if (result.restored) stdout.write(`put back the file it had replaced at ${result.restored}\n`);
      return 0;
    }

    const library = checkLibrary();
    if (!library.ok) {
      stderr.write(`${libraryTroubleshooting(library).join('\n')}\n`);
      stderr.write(`rampart: not installing the ${this.agent} wrapper: it would fail on every run without the library\n`);
      return 1;
    }

    const cli = fs.realpathSync(process.argv[1] ?? '');
    const envPath = this.context.env.PATH ?? process.env.PATH;
    const result = installWrapper({
      agent: this.agent,
      node: process.execPath,
      cli,
      bin: this.bin,
      force: this.force,
      envPath,
    });
    if (result.replacedBackup) stdout.write(`moved the existing ${result.path} to ${result.replacedBackup}\n`);
    const what = result.fixed
      ? result.runs
      : result.runs
        ? `the first ${this.agent} on PATH (now ${result.runs})`
        : `the first ${this.agent} on PATH (none found yet)`;
    stdout.write(`${result.updated ? 'updated' : 'installed'} ${result.path}: runs ${what} under rampart preload --agent ${this.agent}\n`);
    stdout.write(`${pathAdvice(this.agent, envPath)}\n`);
    if (cli.includes('/_npx/')) {
      stderr.write(
        `rampart: warning: the wrapper calls ${cli}, which is in the npx cache and may be cleaned up; ` +
          'install rampart (npm install -g rampart) and run setup again for a stable path\n',
      );
    }
    return 0;
  }
}
