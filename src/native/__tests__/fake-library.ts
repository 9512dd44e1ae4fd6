// Builds small stand-ins for librampart.so with gcc, so verify/install can be tested against
// real ELF files with exactly the symbols, version and class a case needs.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { repoRoot, type RunResult } from '../../../tests/helpers.ts';

/**
 * Runs a program to completion with stdin closed. (tests/helpers.ts `run` writes to the child's
 * stdin, which fails with an uncaught EPIPE when a child that never reads it exits first.)
 */
export function runProgram(command: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

/** The rows of the table of exported symbols (`symbol kind availability # note`), read the way a maintainer reads it. */
const exportRows: { symbol: string; optional: boolean }[] = fs
  .readFileSync(path.join(repoRoot, 'crates', 'preload', 'exports.txt'), 'utf8')
  .split('\n')
  .map((line) => line.replace(/#.*/, '').trim())
  .filter((line) => line !== '')
  .map((line) => {
    const [symbol = '', , availability] = line.split(/\s+/);
    return { symbol, optional: availability === 'optional' };
  });

/** Every symbol of the table: what a library built against the newest libc exports. */
export const exportsList: string[] = exportRows.map((row) => row.symbol);
/** The symbols every library must export. */
export const requiredSymbols: string[] = exportRows.filter((row) => !row.optional).map((row) => row.symbol);
/** The symbols only a library built against a newer libc exports. */
export const optionalSymbols: string[] = exportRows.filter((row) => row.optional).map((row) => row.symbol);

export const VERSION_SYMBOL = 'rampart_preload_version';

export interface FakeLibraryOptions {
  /** The string stored in rampart_preload_version; null leaves the symbol out. */
  version?: string | null;
  /** Hook symbols to leave out. */
  omit?: string[];
  /** A C declaration of the version symbol replacing the usual string (for odd encodings). */
  versionDeclaration?: string;
  /** Build a 32-bit library (gcc -m32). */
  m32?: boolean;
  fileName?: string;
}

/** Compiles a shared object exporting the hooks (as stub functions) and the version symbol. */
export async function buildFakeLibrary(dir: string, options: FakeLibraryOptions = {}): Promise<string> {
  const version = options.version === undefined ? '0.1.0' : options.version;
  const omit = new Set(options.omit ?? []);
  const lines = exportsList.filter((name) => name !== VERSION_SYMBOL && !omit.has(name)).map((name) => `int ${name}(void) { return 0; }`);
  if (options.versionDeclaration) lines.push(options.versionDeclaration);
  else if (version !== null) lines.push(`const char ${VERSION_SYMBOL}[] = ${JSON.stringify(version)};`);
  const base = options.fileName ?? `fake-${Math.random().toString(36).slice(2)}.so`;
  const source = path.join(dir, `${base}.c`);
  const output = path.join(dir, base);
  fs.writeFileSync(source, lines.join('\n') + '\n');
  // -nostdlib: no crt files needed (also for -m32 without 32-bit libc); -fno-builtin: exec* are
  // gcc builtins whose prototypes these stubs do not match.
  const args = ['-shared', '-fPIC', '-nostdlib', '-fno-builtin', '-o', output, source];
  const result = await runProgram('gcc', options.m32 ? ['-m32', ...args] : args);
  if (result.code !== 0) throw new Error(`gcc failed: ${result.stderr}`);
  return output;
}

/** A copy of `file` whose ELF e_machine says another architecture than this host's. */
export function withForeignMachine(file: string, dir: string): { path: string; machine: string } {
  const bytes = fs.readFileSync(file);
  const host = bytes.readUInt16LE(18);
  const [code, machine] = host === 62 ? [183, 'aarch64'] : [62, 'x86_64'];
  bytes.writeUInt16LE(code, 18);
  const copy = path.join(dir, `foreign-${path.basename(file)}`);
  fs.writeFileSync(copy, bytes);
  return { path: copy, machine };
}

/** A statically linked hello-world (gcc -static), the kind of program LD_PRELOAD cannot reach. */
export async function buildStaticProgram(dir: string): Promise<string> {
  const output = path.join(dir, `static-${Math.random().toString(36).slice(2)}`);
  const source = `${output}.c`;
  fs.writeFileSync(source, 'int main(void) { return 0; }\n');
  const result = await runProgram('gcc', ['-static', '-o', output, source]);
  if (result.code !== 0) throw new Error(`gcc -static failed: ${result.stderr}`);
  return output;
}
