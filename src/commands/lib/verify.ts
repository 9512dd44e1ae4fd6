import { Command, Option } from 'clipanion';
import { BaseCommand } from '../base.ts';
import { libraryFileName, locateLibrary, verifyLibrary } from '../../native/index.ts';
import { describeLibraryReport, describeNotFound } from '../../native/report.ts';

export class LibVerifyCommand extends BaseCommand {
  static override paths = [['lib', 'verify']];

  static override usage = Command.Usage({
    category: 'Library',
    description: 'check that librampart.so can be preloaded on this host',
    details: `
      Checks the library at PATH, or the one \`rampart lib path\` finds: it must be an ELF shared
      object of this host's class and machine, export every hook (execve, posix_spawn, system,
      popen, ...) and carry this rampart's version in \`rampart_preload_version\`. The file is
      read, never loaded. Exits 1 when any check fails. \`--json\` prints the report as one JSON
      line.
    `,
    examples: [
      ['Check the library rampart preload would use', '$0 lib verify'],
      ['Check a freshly built library', '$0 lib verify target/release/librampart.so'],
      ['Machine-readable report', '$0 lib verify --json'],
    ],
  });

  json = Option.Boolean('--json', false, { description: 'Print the report as one JSON line' });

  library = Option.String({ name: 'path', required: false });

  protected override async perform(): Promise<number> {
    const { stdout, stderr } = this.context;
    let target = this.library;
    if (target === undefined) {
      const { found, searched } = locateLibrary();
      if (!found) {
        if (this.json) stdout.write(JSON.stringify({ ok: false, found: false, searched }) + '\n');
        stderr.write(describeNotFound(libraryFileName(), searched).join('\n') + '\n');
        return 1;
      }
      target = found.path;
    }
    const report = verifyLibrary(target);
    stdout.write(this.json ? JSON.stringify(report) + '\n' : describeLibraryReport(report).join('\n') + '\n');
    return report.ok ? 0 : 1;
  }
}
