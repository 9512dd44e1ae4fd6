// Platform facts the CLI tells users about before it runs something it cannot protect.
import path from 'node:path';

/** Directories whose binaries macOS System Integrity Protection starts with DYLD_* variables stripped. */
export const SIP_PROTECTED_DIRS = ['/usr/bin', '/bin', '/sbin', '/usr/sbin', '/usr/libexec', '/System'] as const;

/**
 * On macOS, a warning when `executable` (an absolute path, as resolved from PATH) lives under a
 * SIP-protected directory: DYLD_INSERT_LIBRARIES is dropped there, so preloading cannot protect it.
 * Undefined on other platforms and for other paths. `platform` is for tests.
 */
export function sipWarning(executable: string, platform: NodeJS.Platform = process.platform): string | undefined {
  if (platform !== 'darwin') return undefined;
  const resolved = path.resolve(executable);
  const dir = SIP_PROTECTED_DIRS.find((protectedDir) => resolved.startsWith(`${protectedDir}/`));
  if (!dir) return undefined;
  return (
    `rampart: ${resolved} is protected by macOS System Integrity Protection (${dir}): ` +
    'it starts without DYLD_INSERT_LIBRARIES, so preload cannot check what it runs. ' +
    'Use `rampart wrap -- <command>`, or install the program outside SIP-protected locations.'
  );
}
