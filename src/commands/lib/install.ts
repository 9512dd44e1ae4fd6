import path from 'node:path';
import { Command, Option } from 'clipanion';
import { BaseCommand } from '../base.ts';
import { defaultLibraryDir, installLibrary, libraryFileName, locateLibrary, NativeUnavailableError } from '../../native/index.ts';
import { describeNotFound } from '../../native/report.ts';

export class LibInstallCommand extends BaseCommand {
  static override paths = [['lib', 'install']];

  static override usage = Command.Usage({
    category: 'Library',
    description: 'install librampart.so into ~/.rampart/lib',
    details: `
      Copies the library that came with rampart (the platform package's, or a source checkout's
      \`target/release\` build), or the file given with \`--from\`, into \`~/.rampart/lib\` (or
      \`--dir\`), where \`rampart preload\` looks first. The source is verified first (as
      \`rampart lib verify\` does). The copy is atomic: processes starting at the same moment
      see the old library or the new one, never a partial file.

      A newer installed library is not downgraded, and a source of another version than this
      rampart is refused, unless \`--force\` is given.
    `,
    examples: [
      ['Install the bundled library', '$0 lib install'],
      ['Install a library built from source', '$0 lib install --from target/release/librampart.so'],
      ['Install system-wide', 'sudo $0 lib install --dir /usr/local/lib'],
    ],
  });

  dir = Option.String('--dir', { description: 'Directory to install into (default: ~/.rampart/lib)' });

  from = Option.String('--from', { description: 'Library file to install (default: the bundled library)' });

  force = Option.Boolean('--force', false, {
    description: 'Replace a newer installed library, or install a library of another version',
  });

  protected override async perform(): Promise<number> {
    const { stdout, stderr } = this.context;
    const dir = path.resolve(this.dir ?? defaultLibraryDir());
    try {
      const source = this.from ?? this.bundledLibrary(dir);
      if (source === undefined) return 1;
      const result = installLibrary(source, dir, { force: this.force });
      if (result.unchanged) {
        stdout.write(`${result.path} is already this library (version ${result.version}); nothing to do\n`);
      } else {
        const replaced = result.replacedVersion ? ` (replaced version ${result.replacedVersion})` : '';
        stdout.write(`installed ${libraryFileName()} ${result.version} to ${result.path}${replaced}\n`);
        stdout.write(`  from ${path.resolve(source)}\n`);
      }
      return 0;
    } catch (error) {
      // Install failures (unusable source, refused downgrade, unwritable dir) and a missing addon
      // are expected outcomes with clear messages, not bugs.
      if (!(error instanceof Error)) throw error;
      stderr.write(`rampart: ${error.message}\n`);
      return 1;
    }
  }

  /** The library rampart would preload, other than the one already in the target directory. */
  private bundledLibrary(dir: string): string | undefined {
    const { found, searched } = locateLibrary({ exclude: [path.join(dir, libraryFileName())] });
    if (!found) this.context.stderr.write(describeNotFound(libraryFileName(), searched).join('\n') + '\n');
    return found?.path;
  }
}
