// Human-readable renderings of what src/native/index.ts returns, shared by `rampart lib *`
// (and anything else that shows a library report or a failed search).
import type { LibraryCandidate, LibraryReport } from './index.ts';

/** The lines of a library report, e.g. for `rampart lib verify`. */
export function describeLibraryReport(report: LibraryReport): string[] {
  const lines = [`library:  ${report.path}`];
  if (report.elfClass) {
    const kind = report.sharedObject ? 'shared object' : 'not a shared object';
    lines.push(`format:   ${report.elfClass} ${report.machine ?? '?'} ${kind} (host: ${report.hostMachine})`);
    const total = report.exportedHooks.length + report.missingSymbols.length;
    lines.push(`exports:  ${report.exportedHooks.length}/${total} required symbols`);
    const optional = report.exportedOptional.length + report.missingOptional.length;
    if (optional > 0) {
      const absent = report.missingOptional.length > 0 ? ` (not built in: ${report.missingOptional.join(', ')})` : '';
      lines.push(`optional: ${report.exportedOptional.length}/${optional} symbols${absent}`);
    }
    lines.push(`version:  ${report.version ?? 'unknown'} (rampart ${report.expectedVersion})`);
  }
  for (const problem of report.problems) lines.push(`problem:  ${problem}`);
  lines.push(report.ok ? 'ok' : `not ok: ${report.problems.length} problem${report.problems.length === 1 ? '' : 's'}`);
  return lines;
}

/** What to print when no library was found: where we looked and how to get one. */
export function describeNotFound(fileName: string, searched: LibraryCandidate[]): string[] {
  const width = Math.max(0, ...searched.map((candidate) => candidate.path.length));
  return [
    `${fileName} not found. Searched:`,
    ...searched.map((candidate) => `  ${candidate.path.padEnd(width)}  (${candidate.origin})`),
    'Install it from a file:',
    `  rampart lib install --from /path/to/${fileName}`,
    'or build it from source (in a rampart checkout) and install it:',
    '  cargo build --release -p rampart-preload && rampart lib install',
  ];
}
