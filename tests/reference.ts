// The reference implementation's shipped files (peg/rampart's standard.yaml, bench-corpus.yaml and
// rampart-tests.yaml) are optional test data: they are never part of this repository, and a
// user's clone does not have them. Tests that compare us with the reference use them when present
// and are skipped (visibly, titled "reference: ...") when not.
//
// One variable says where they are: RAMPART_REFERENCE_DIR. Unset, the folder
// ../shared/fixtures/upstream beside the checkout is used when it exists (the layout of the
// development machines and CI); set to an empty string, the reference tests are off; set to a
// folder that lacks the files, the run stops with an error instead of skipping quietly.
// (No ava here: the benchmark and the notice script use the lookup too; see reference-test.ts.)
import fs from 'node:fs';
import path from 'node:path';
import { repoRoot } from './helpers.ts';

export const REFERENCE_VARIABLE = 'RAMPART_REFERENCE_DIR';
export const REFERENCE_FILES = ['standard.yaml', 'bench-corpus.yaml', 'rampart-tests.yaml'] as const;
export type ReferenceFile = (typeof REFERENCE_FILES)[number];

const DEFAULT_DIR = path.resolve(repoRoot, '..', 'shared', 'fixtures', 'upstream');

export interface ReferenceLookup {
  /** The folder holding the reference files, when the reference tests run. */
  dir?: string;
  /** Why they do not run (or where the folder came from when they do). */
  because: string;
}

/** Where the reference files are, following RAMPART_REFERENCE_DIR; throws on a folder without them. */
export function lookUpReference(env: NodeJS.ProcessEnv = process.env): ReferenceLookup {
  const configured = env[REFERENCE_VARIABLE];
  if (configured !== undefined) {
    if (configured.trim() === '') return { because: `${REFERENCE_VARIABLE} is empty` };
    const dir = path.resolve(configured);
    const missing = REFERENCE_FILES.filter((name) => !fs.existsSync(path.join(dir, name)));
    if (missing.length > 0) throw new Error(`${REFERENCE_VARIABLE}=${configured}: ${missing.join(', ')} not found in ${dir}`);
    return { dir, because: `${REFERENCE_VARIABLE}=${configured}` };
  }
  if (REFERENCE_FILES.every((name) => fs.existsSync(path.join(DEFAULT_DIR, name)))) return { dir: DEFAULT_DIR, because: `found ${DEFAULT_DIR}` };
  return { because: `${REFERENCE_VARIABLE} is not set and ${DEFAULT_DIR} does not exist` };
}

let lookup: ReferenceLookup | undefined;

/** This process's lookup, made once (a misconfigured variable throws in the test file that asks). */
function current(): ReferenceLookup {
  return (lookup ??= lookUpReference());
}

/** True when the reference tests run in this process. */
export function referenceAvailable(): boolean {
  return current().dir !== undefined;
}

/** The path of a reference file; only call it from a referenceTest (or after checking referenceAvailable()). */
export function referenceFile(name: ReferenceFile): string {
  const { dir, because } = current();
  if (dir === undefined) throw new Error(`the reference files are not available (${because})`);
  return path.join(dir, name);
}

/** The one line `npm test` prints about the reference tests. */
export function referenceNotice(): string {
  const { dir, because } = current();
  if (dir !== undefined) return `reference tests: on (${because})`;
  return (
    `reference tests: skipped, the tests titled "reference: ..." (${because}); ` +
    `to run them, set ${REFERENCE_VARIABLE} to a folder holding peg/rampart's ${REFERENCE_FILES.join(', ')}`
  );
}
