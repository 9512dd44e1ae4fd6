// Prints, before the ava run, whether the tests that need the reference's files run or are skipped
// (tests/reference.ts). A folder named by RAMPART_REFERENCE_DIR that lacks the files stops the run.
import { referenceNotice } from './reference.ts';

try {
  process.stdout.write(`${referenceNotice()}\n`);
} catch (err) {
  process.stderr.write(`${(err as Error).message}\n`);
  process.exit(1);
}
