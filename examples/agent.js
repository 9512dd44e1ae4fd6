// A tiny stand-in for an AI agent: it runs one everyday command and one destructive command
// through Node's usual process API, and says what happened to each. Try it:
//
//   npx rampart preload -- node examples/agent.js
//
// The destructive command is `rm -rf /`, but it is safe to run this file anywhere, with or
// without rampart: the `rm` it finds first on PATH is a decoy this script writes into a fresh
// temporary directory, which only prints a line. So even in monitor mode (which logs but never
// blocks) nothing is deleted; rampart's policy sees the same `rm -rf /` a real agent would run.
import { execFileSync, execSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const decoyDir = fs.mkdtempSync(path.join(os.tmpdir(), 'rampart-example-'));
process.on('exit', () => fs.rmSync(decoyDir, { recursive: true, force: true }));
fs.writeFileSync(path.join(decoyDir, 'rm'), '#!/bin/sh\necho "decoy rm ran with: $*"\n', { mode: 0o755 });
const decoyEnv = { ...process.env, PATH: `${decoyDir}${path.delimiter}${process.env.PATH ?? ''}` };

function attempt(description, run) {
  console.log(`agent: running ${description}`);
  try {
    const output = run().toString().trim();
    console.log(`  allowed: ${output || '(no output)'}`);
  } catch (error) {
    if (error.code === 'EPERM') console.log(`  blocked: ${error.code} (${error.message})`);
    else if (typeof error.status === 'number') console.log(`  failed: exit code ${error.status}`);
    else console.log(`  failed: ${error.message}`);
  }
}

// An everyday command, through a shell (child_process.execSync runs /bin/sh -c).
attempt('`echo hello from the agent` (everyday)', () => execSync('echo hello from the agent'));
// A destructive one, directly (child_process.execFileSync: no shell).
attempt('`rm -rf /` (destructive; a harmless decoy rm)', () => execFileSync('rm', ['-rf', '/'], { env: decoyEnv, stdio: ['ignore', 'pipe', 'inherit'] }));
