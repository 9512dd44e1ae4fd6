// Finding and checking librampart.so before anything runs: a missing or wrong library must stop
// us with instructions, not silently run the agent unprotected.
import { locateLibrary, NativeUnavailableError, verifyLibrary } from '../native/index.ts';
import { VERSION } from '../version.ts';

export type LibraryCheck =
  { ok: true; path: string; version: string; origin: string } | { ok: false; headline: string; details: string[]; searched: string[]; nativeMissing?: boolean };

export function checkLibrary(): LibraryCheck {
  let located;
  try {
    located = locateLibrary();
  } catch (err) {
    if (err instanceof NativeUnavailableError) return { ok: false, headline: err.message, details: [], searched: [], nativeMissing: true };
    return { ok: false, headline: 'cannot look for librampart.so', details: [(err as Error).message], searched: [] };
  }
  const searched = located.searched.map((candidate) => candidate.path);
  const found = located.found?.path;
  if (!found) return { ok: false, headline: 'librampart.so not found', details: [], searched };
  let report;
  try {
    report = verifyLibrary(found, VERSION);
  } catch (err) {
    return { ok: false, headline: `cannot check ${found}`, details: [(err as Error).message], searched };
  }
  if (!report.ok) {
    return { ok: false, headline: `${found} is not a usable librampart.so`, details: report.problems, searched };
  }
  return { ok: true, path: found, version: report.version ?? VERSION, origin: located.found?.origin ?? 'unknown' };
}

/** Troubleshooting advice (docs/cli.md CLI-PRELOAD-5), with what we actually looked at. */
export function libraryTroubleshooting(problem: Extract<LibraryCheck, { ok: false }>): string[] {
  // Without the addon `rampart lib install` cannot work either: the headline already says what to do.
  if (problem.nativeMissing) return [`rampart: ${problem.headline}`];
  return [
    `rampart: ${problem.headline}`,
    ...problem.details.map((line) => `  problem: ${line}`),
    ...(problem.searched.length > 0 ? ['  searched:', ...problem.searched.map((p) => `    ${p}`)] : []),
    '  install it:',
    '    rampart lib install',
    '  or build it from source (in a rampart checkout):',
    '    cargo build --release -p rampart-preload',
    '    mkdir -p ~/.rampart/lib && cp target/release/librampart.so ~/.rampart/lib/',
    '  check:',
    '    ls -la ~/.rampart/lib/   # should show librampart.so',
  ];
}
