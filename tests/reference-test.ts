// ava's side of tests/reference.ts: tests that need the reference's files.
import test, { type ImplementationFn } from 'ava';
import { referenceAvailable } from './reference.ts';

export { referenceAvailable, referenceFile } from './reference.ts';

/** A test that needs the reference files: skipped, with its title still listed, when they are absent. */
export function referenceTest(title: string, implementation: ImplementationFn<[]>): void {
  (referenceAvailable() ? test : test.skip)(`reference: ${title}`, implementation);
}
