import { Command } from 'clipanion';
import { BaseCommand } from '../base.ts';
import { libraryFileName, locateLibrary, verifyLibrary } from '../../native/index.ts';
import { describeNotFound } from '../../native/report.ts';

export class LibPathCommand extends BaseCommand {
  static override paths = [['lib', 'path']];

  static override usage = Command.Usage({
    category: 'Library',
    description: 'print where librampart.so is found',
    details: `
      Looks for the preload library where \`rampart preload\` does, in this order:
      \`~/.rampart/lib\`, \`/usr/local/lib\`, next to the \`rampart\` binary, the installed
      platform package, then a source checkout's \`target/release\`. Prints the first one found
      (a warning goes to stderr when it fails \`rampart lib verify\`). When there is none, prints
      every place searched and how to install it, and exits 1.
    `,
    examples: [
      ['Show the library rampart preload would use', '$0 lib path'],
      ['List the library that would be preloaded', 'ls -la "$(rampart lib path)"'],
    ],
  });

  protected override async perform(): Promise<number> {
    const { stdout, stderr } = this.context;
    const { found, searched } = locateLibrary();
    if (!found) {
      stderr.write(describeNotFound(libraryFileName(), searched).join('\n') + '\n');
      return 1;
    }
    stdout.write(`${found.path}\n`);
    const report = verifyLibrary(found.path);
    if (!report.ok) {
      stderr.write(`warning: ${found.path} is not usable (see rampart lib verify): ${report.problems.join(' ')}\n`);
    }
    return 0;
  }
}
