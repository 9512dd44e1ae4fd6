// Runs the protected command: stdio inherited, signals sent to us passed on, and its fate turned
// into our exit code the way a shell does (its own code, or 128+N when signal N killed it).
// Also runs helper processes (doctor probes, `serve --background`) whose stderr we report.
import { spawn, type ChildProcess } from 'node:child_process';
import os from 'node:os';

export const FORWARDED_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2', 'SIGWINCH'] as const;

export type ChildOutcome =
  { kind: 'exited'; code: number } | { kind: 'killed'; signal: NodeJS.Signals; code: number } | { kind: 'failed'; errno: string; message: string };

export function runChild(file: string, argv: string[], env: NodeJS.ProcessEnv, cwd: string): Promise<ChildOutcome> {
  return new Promise((resolve) => {
    const [argv0, ...args] = argv;
    let child: ChildProcess;
    try {
      child = spawn(file, args, { argv0, env, cwd, stdio: 'inherit' });
    } catch (err) {
      // Some failures (EPERM from an outer librampart.so when rampart preload itself runs
      // preloaded, EACCES) are thrown at once rather than emitted.
      const errno = (err as NodeJS.ErrnoException).code ?? 'EIO';
      resolve({ kind: 'failed', errno, message: (err as Error).message });
      return;
    }
    // A terminal's Ctrl-C reaches the whole process group, so the command may get SIGINT twice;
    // that is what every launcher that forwards signals does, and `kill <our pid>` must work.
    const forward = (signal: NodeJS.Signals) => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    };
    for (const signal of FORWARDED_SIGNALS) process.on(signal, forward);
    const finish = (outcome: ChildOutcome) => {
      for (const signal of FORWARDED_SIGNALS) process.off(signal, forward);
      resolve(outcome);
    };
    child.once('error', (err: NodeJS.ErrnoException) => {
      finish({ kind: 'failed', errno: err.code ?? 'EIO', message: err.message });
    });
    child.once('exit', (code, signal) => {
      if (signal) finish({ kind: 'killed', signal, code: 128 + (os.constants.signals[signal] ?? 0) });
      else finish({ kind: 'exited', code: code ?? 1 });
    });
  });
}

/**
 * Runs a helper process with stdin/stdout ignored and collects its stderr; SIGKILLs it after
 * `timeoutMs`. A failure to start is reported as code null with the error as stderr.
 */
export function runCapturingStderr(
  file: string,
  args: string[],
  options: { env?: NodeJS.ProcessEnv; cwd?: string; timeoutMs: number },
): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    let child: ChildProcess;
    try {
      child = spawn(file, args, { env: options.env, cwd: options.cwd, stdio: ['ignore', 'ignore', 'pipe'] });
    } catch (err) {
      resolve({ code: null, stderr: (err as Error).message }); // thrown at once: see runChild
      return;
    }
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      resolve({ code: null, stderr: err.message });
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stderr });
    });
  });
}
