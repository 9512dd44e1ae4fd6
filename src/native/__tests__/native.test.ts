// The native addon through its TypeScript API, against real files: gcc-built stand-ins for
// librampart.so, the real freshly built library, /bin/true, a static program, setuid copies,
// scripts. Guards docs/cli.md CLI-PRELOAD-5 and CLI-LIB-1..3: find the library, check it (ELF class and
// machine, exported hooks, version), install it atomically, tell static or setuid targets.
import fs from 'node:fs';
import path from 'node:path';
import test from 'ava';
import { libraryPath, tempDir } from '../../../tests/helpers.ts';
import { VERSION } from '../../version.ts';
import {
  compareVersions,
  defaultLibraryDir,
  expectedExports,
  inspectExecutable,
  installLibrary,
  librarySearchPath,
  librarySettings,
  librarySettingsTable,
  locateLibrary,
  nativeAvailable,
  optionalExports,
  preloadObstacle,
  resolveCommand,
  verifyLibrary,
} from '../index.ts';
import { buildFakeLibrary, buildStaticProgram, exportsList, optionalSymbols, requiredSymbols, VERSION_SYMBOL, withForeignMachine } from './fake-library.ts';

const dir = tempDir('rampart-native-');
const hooks = exportsList.filter((name) => name !== VERSION_SYMBOL);

test('the addon loads and knows the exports.txt table', (t) => {
  t.true(nativeAvailable());
  t.deepEqual(expectedExports(), requiredSymbols);
  t.deepEqual(optionalExports(), optionalSymbols);
  t.true(requiredSymbols.includes('execve') && requiredSymbols.includes(VERSION_SYMBOL));
  t.true(optionalSymbols.includes('execveat'));
});

test('verify: a complete library of the right version is ok', async (t) => {
  const lib = await buildFakeLibrary(dir, { version: VERSION });
  const report = verifyLibrary(lib);
  t.deepEqual(report.problems, []);
  t.true(report.ok);
  t.is(report.path, lib);
  t.is(report.version, VERSION);
  t.is(report.expectedVersion, VERSION);
  t.is(report.elfClass, 'ELF64');
  t.is(report.machine, report.hostMachine);
  t.true(report.sharedObject);
  t.deepEqual(report.exportedHooks, requiredSymbols);
  t.deepEqual(report.missingSymbols, []);
  t.deepEqual(report.exportedOptional, optionalSymbols);
  t.deepEqual(report.missingOptional, []);
});

test('verify: a library without the optional symbols (built against an older libc) is ok', async (t) => {
  const lib = await buildFakeLibrary(dir, { version: VERSION, omit: optionalSymbols });
  const report = verifyLibrary(lib);
  t.deepEqual(report.problems, []);
  t.true(report.ok);
  t.deepEqual(report.exportedHooks, requiredSymbols);
  t.deepEqual(report.exportedOptional, []);
  t.deepEqual(report.missingOptional, optionalSymbols);
});

test('verify: a version mismatch is a problem naming both versions', async (t) => {
  const lib = await buildFakeLibrary(dir, { version: '0.0.9' });
  const report = verifyLibrary(lib, '0.1.0');
  t.false(report.ok);
  t.is(report.version, '0.0.9');
  t.is(report.problems.length, 1);
  t.regex(report.problems[0]!, /0\.0\.9.*0\.1\.0/);
});

test('verify: missing hooks and a missing version symbol are listed', async (t) => {
  const lib = await buildFakeLibrary(dir, { version: null, omit: ['execv', 'popen', 'execveat'] });
  const report = verifyLibrary(lib);
  t.false(report.ok);
  t.deepEqual(report.missingSymbols, ['execv', 'popen', VERSION_SYMBOL]);
  t.is(report.exportedHooks.length, requiredSymbols.length - 3);
  t.deepEqual(report.missingOptional, ['execveat']);
  t.is(report.version, undefined);
  t.regex(report.problems.join(' '), /does not export execv, popen, rampart_preload_version/);
  t.notRegex(report.problems.join(' '), /execveat/);
});

test('verify: a version symbol that is not a short NUL-terminated string is a clear problem', async (t) => {
  const cases: [string, string][] = [
    [`int ${VERSION_SYMBOL}(void) { return 0; }`, 'it is not a data symbol'],
    [`const char ${VERSION_SYMBOL}[5] = "0.1.0";`, 'it is not a NUL-terminated string'],
    [`const char ${VERSION_SYMBOL}[] = "";`, 'it does not hold a version string'],
    [`const char ${VERSION_SYMBOL}[] = "0.1.0\\n\\x01";`, 'it does not hold a printable version string'],
    [`const char ${VERSION_SYMBOL}[200] = "${'9'.repeat(100)}";`, 'it does not hold a version string'],
  ];
  for (const [versionDeclaration, why] of cases) {
    const report = verifyLibrary(await buildFakeLibrary(dir, { versionDeclaration }));
    t.false(report.ok, versionDeclaration);
    t.is(report.version, undefined);
    t.deepEqual(report.problems, [`Its ${VERSION_SYMBOL} symbol cannot be read: ${why}.`], versionDeclaration);
  }
});

test('verify: a library for another machine is refused', async (t) => {
  const lib = await buildFakeLibrary(dir, { version: VERSION });
  const foreign = withForeignMachine(lib, dir);
  const report = verifyLibrary(foreign.path);
  t.false(report.ok);
  t.is(report.machine, foreign.machine);
  t.true(report.problems.includes(`It is built for ${foreign.machine} but this host is ${report.hostMachine}.`));
});

test('verify: a 32-bit library is refused on this 64-bit host', async (t) => {
  const lib = await buildFakeLibrary(dir, { version: VERSION, m32: true });
  const report = verifyLibrary(lib);
  t.false(report.ok);
  t.is(report.elfClass, 'ELF32');
  t.true(report.problems.includes('It is a 32-bit library but this host runs 64-bit programs.'), report.problems.join('\n'));
});

test('verify: a text file, a missing file and a directory are reported, not thrown', (t) => {
  const text = path.join(dir, 'not-elf.so');
  fs.writeFileSync(text, 'hello\n');
  t.deepEqual(verifyLibrary(text).problems, ['It is not an ELF file (it does not start with \\x7fELF).']);
  t.deepEqual(verifyLibrary(path.join(dir, 'absent.so')).problems, ['It cannot be read: No such file or directory.']);
  t.deepEqual(verifyLibrary(dir).problems, ['It is not a regular file.']);
});

test('verify: a truncated library is a damaged ELF file', async (t) => {
  const lib = await buildFakeLibrary(dir, { version: VERSION });
  const cut = path.join(dir, 'truncated.so');
  fs.writeFileSync(cut, fs.readFileSync(lib).subarray(0, 100));
  const report = verifyLibrary(cut);
  t.false(report.ok);
  t.regex(report.problems[0]!, /damaged ELF file/);
});

test('verify: a static executable is not a shared library and exports no hooks', async (t) => {
  const program = await buildStaticProgram(dir);
  const report = verifyLibrary(program);
  t.false(report.sharedObject);
  t.deepEqual(report.missingSymbols, requiredSymbols);
  t.deepEqual(report.missingOptional, optionalSymbols);
  t.true(report.problems.includes('It is not a shared library (its ELF type is EXEC).'), report.problems.join('\n'));
});

test('verify: the freshly built librampart.so passes (cargo build --release -p rampart-preload)', (t) => {
  const report = verifyLibrary(libraryPath);
  t.deepEqual(report.problems, [], `librampart.so at ${libraryPath}`);
  t.is(report.version, VERSION);
  t.deepEqual(report.exportedHooks, requiredSymbols);
  // The optional rows it has depend on the libc it was built against; each is one or the other.
  t.deepEqual([...report.exportedOptional, ...report.missingOptional].sort(), [...optionalSymbols].sort());
});

test('inspect: /bin/true is a dynamic ELF program with a dynamic loader', (t) => {
  const info = inspectExecutable('/bin/true');
  t.true(info.isElf);
  t.false(info.isStatic);
  t.regex(info.interpreter ?? '', /ld-linux|ld-musl|ld\.so/);
  t.false(info.setuid);
  t.is(preloadObstacle(info), undefined);
});

test('inspect: a gcc -static program is static and cannot be protected by preloading', async (t) => {
  const program = await buildStaticProgram(dir);
  const info = inspectExecutable(program);
  t.true(info.isElf);
  t.true(info.isStatic);
  t.is(info.interpreter, undefined);
  t.is(preloadObstacle(info), `${program} is statically linked: LD_PRELOAD has no effect on it`);
});

test('inspect: setuid and setgid copies are reported', (t) => {
  const setuid = path.join(dir, 'true-setuid');
  const setgid = path.join(dir, 'true-setgid');
  fs.copyFileSync('/bin/true', setuid);
  fs.copyFileSync('/bin/true', setgid);
  fs.chmodSync(setuid, 0o4755);
  fs.chmodSync(setgid, 0o2755);
  const u = inspectExecutable(setuid);
  const g = inspectExecutable(setgid);
  t.true(u.setuid);
  t.false(u.setgid);
  t.false(g.setuid);
  t.true(g.setgid);
  t.regex(preloadObstacle(u) ?? '', /is setuid: the dynamic loader ignores LD_PRELOAD/);
  t.regex(preloadObstacle(g) ?? '', /is setgid/);
});

test('inspect: a #! script reports its interpreter, inspected in turn', async (t) => {
  const script = path.join(dir, 'hello.sh');
  fs.writeFileSync(script, '#!/bin/sh -e\necho hello\n', { mode: 0o755 });
  const info = inspectExecutable(script);
  t.false(info.isElf);
  t.is(info.shebang?.interpreter, '/bin/sh');
  t.is(info.shebang?.argument, '-e');
  t.true(info.shebang?.target?.isElf);
  t.is(preloadObstacle(info), undefined);

  const program = await buildStaticProgram(dir);
  const wrapped = path.join(dir, 'via-static.sh');
  fs.writeFileSync(wrapped, `#!${program}\n`, { mode: 0o755 });
  t.is(preloadObstacle(inspectExecutable(wrapped)), `${wrapped} runs ${program}, and ${program} is statically linked: LD_PRELOAD has no effect on it`);
});

test('inspect: looping #! interpreters stop with an error, a missing interpreter is reported', (t) => {
  const a = path.join(dir, 'loop-a');
  const b = path.join(dir, 'loop-b');
  fs.writeFileSync(a, `#!${b}\n`, { mode: 0o755 });
  fs.writeFileSync(b, `#!${a}\n`, { mode: 0o755 });
  let info = inspectExecutable(a);
  let depth = 0;
  while (info.shebang?.target) {
    info = info.shebang.target;
    depth += 1;
  }
  t.is(depth, 4);
  t.regex(info.shebang?.error ?? '', /too many nested #! interpreters/);

  const orphan = path.join(dir, 'orphan');
  fs.writeFileSync(orphan, '#!/nonexistent/interp\n', { mode: 0o755 });
  t.is(inspectExecutable(orphan).shebang?.error, '/nonexistent/interp: cannot be read: No such file or directory');
});

test('inspect: bare names go through PATH; unknown names and directories are clear errors', (t) => {
  const bin = path.join(dir, 'bin');
  fs.mkdirSync(bin, { recursive: true });
  fs.copyFileSync('/bin/true', path.join(bin, 'my-tool'));
  fs.chmodSync(path.join(bin, 'my-tool'), 0o755);
  t.is(inspectExecutable('my-tool', { path: `/nonexistent:${bin}` }).path, path.join(bin, 'my-tool'));
  t.throws(() => inspectExecutable('no-such-tool-xyz', { path: bin }), {
    message: 'no-such-tool-xyz: command not found in PATH',
  });
  t.throws(() => inspectExecutable(bin), { message: `${bin}: is not a regular file` });
});

test('resolveCommand finds names like execvp and says why it did not (ENOENT vs EACCES)', (t) => {
  const base = path.join(dir, 'resolve');
  const plain = path.join(base, 'plain');
  const blocked = path.join(base, 'blocked');
  const later = path.join(base, 'later');
  for (const d of [plain, blocked, later]) fs.mkdirSync(d, { recursive: true });
  fs.writeFileSync(path.join(plain, 'tool'), '#!/bin/sh\n', { mode: 0o755 });
  fs.writeFileSync(path.join(blocked, 'tool'), '#!/bin/sh\n', { mode: 0o644 });
  fs.mkdirSync(path.join(blocked, 'dir-tool'));
  fs.writeFileSync(path.join(later, 'dir-tool'), '#!/bin/sh\n', { mode: 0o755 });
  // The first executable regular file on PATH wins; non-executable matches and directories are skipped.
  t.deepEqual(resolveCommand('tool', `/nonexistent:${blocked}:${plain}`, base), { found: true, path: path.join(plain, 'tool') });
  t.deepEqual(resolveCommand('dir-tool', `${blocked}:${later}`, base), { found: true, path: path.join(later, 'dir-tool') });
  // Nothing better: the first obstacle seen is the reason.
  t.deepEqual(resolveCommand('tool', blocked, base), { found: false, reason: 'not-executable', path: path.join(blocked, 'tool') });
  t.deepEqual(resolveCommand('dir-tool', blocked, base), { found: false, reason: 'is-directory', path: path.join(blocked, 'dir-tool') });
  t.deepEqual(resolveCommand('no-such-tool-xyz', plain, base), { found: false, reason: 'not-found' });
  t.deepEqual(resolveCommand('', `${plain}:${base}`, base), { found: false, reason: 'not-found' });
  // A name with a slash is a path relative to cwd; an empty PATH entry is the cwd.
  t.deepEqual(resolveCommand('plain/tool', '', base), { found: true, path: path.join(plain, 'tool') });
  t.deepEqual(resolveCommand('./missing', plain, base), { found: false, reason: 'not-found', path: path.join(base, 'missing') });
  t.deepEqual(resolveCommand('tool', `:${blocked}`, plain), { found: true, path: path.join(plain, 'tool') });
});

test('search path: home, /usr/local/lib, beside the binary (real path and parent), package, checkout', (t) => {
  const home = path.join(dir, 'home-order');
  const pkg = path.join(dir, 'pkg', 'dist');
  fs.mkdirSync(pkg, { recursive: true });
  fs.writeFileSync(path.join(pkg, 'cli.js'), '');
  const link = path.join(dir, 'rampart-link');
  fs.symlinkSync(path.join(pkg, 'cli.js'), link);
  const searched = librarySearchPath({ home, binary: link });
  const origins = searched.map((candidate) => candidate.origin);
  t.deepEqual(searched.slice(0, 4), [
    { path: path.join(home, '.rampart', 'lib', 'librampart.so'), origin: 'home' },
    { path: '/usr/local/lib/librampart.so', origin: 'usr-local' },
    { path: path.join(pkg, 'librampart.so'), origin: 'beside-binary' },
    { path: path.join(dir, 'pkg', 'librampart.so'), origin: 'beside-binary' },
  ]);
  t.is(origins.at(-1), 'source-checkout');
  t.is(searched.at(-1)!.path, libraryPath);
});

test('locate: the first existing library wins; excluded paths are skipped', async (t) => {
  const home = path.join(dir, 'home-locate');
  const lib = await buildFakeLibrary(dir, { version: VERSION });
  const installed = path.join(defaultLibraryDir(home), 'librampart.so');
  fs.mkdirSync(path.dirname(installed), { recursive: true });
  fs.copyFileSync(lib, installed);
  t.deepEqual(locateLibrary({ home }).found, { path: installed, origin: 'home' });
  const next = locateLibrary({ home, exclude: [installed] });
  t.not(next.found?.path, installed);
  t.is(next.searched[0]!.path, installed, 'excluded paths are still listed as searched');
});

test('install: creates the directory, writes 0755 atomically, and is idempotent', async (t) => {
  const lib = await buildFakeLibrary(dir, { version: VERSION });
  const target = path.join(dir, 'install-fresh', 'nested', 'lib');
  const result = installLibrary(lib, target);
  const installed = path.join(target, 'librampart.so');
  t.deepEqual(result, { path: installed, version: VERSION, unchanged: false });
  t.deepEqual(fs.readFileSync(installed), fs.readFileSync(lib));
  t.is(fs.statSync(installed).mode & 0o7777, 0o755);
  t.is(fs.statSync(target).mode & 0o777, 0o755);
  t.deepEqual(fs.readdirSync(target), ['librampart.so'], 'no temporary file is left behind');
  t.true(verifyLibrary(installed).ok);
  t.true(installLibrary(lib, target).unchanged);
});

test('install: a newer installed library is not downgraded without force', async (t) => {
  const target = path.join(dir, 'install-downgrade');
  const newer = await buildFakeLibrary(dir, { version: '0.2.0' });
  const older = await buildFakeLibrary(dir, { version: '0.1.0' });
  installLibrary(newer, target, { expectedVersion: '0.2.0' });
  const error = t.throws(() => installLibrary(older, target, { expectedVersion: '0.1.0' }));
  t.regex(error.message, /is version 0\.2\.0, newer than 0\.1\.0 .*refusing to downgrade it \(use --force/);
  t.deepEqual(fs.readFileSync(path.join(target, 'librampart.so')), fs.readFileSync(newer));
  const forced = installLibrary(older, target, { expectedVersion: '0.1.0', force: true });
  t.is(forced.replacedVersion, '0.2.0');
  t.deepEqual(fs.readFileSync(path.join(target, 'librampart.so')), fs.readFileSync(older));
  // Upgrading needs no force.
  t.is(installLibrary(newer, target, { expectedVersion: '0.2.0' }).replacedVersion, '0.1.0');
});

test('install: an unusable source is refused before the directory is touched', async (t) => {
  const target = path.join(dir, 'install-refused');
  const incomplete = await buildFakeLibrary(dir, { version: VERSION, omit: ['system'] });
  const error = t.throws(() => installLibrary(incomplete, target, { force: true }));
  t.regex(error.message, /is not a usable library: It does not export system/);
  t.false(fs.existsSync(target));
  t.throws(() => installLibrary(path.join(dir, 'absent.so'), target), {
    message: /absent\.so is not a usable library: It cannot be read: No such file or directory\./,
  });
});

test('install: a source of another version needs --force', async (t) => {
  const target = path.join(dir, 'install-mismatch');
  const other = await buildFakeLibrary(dir, { version: '9.9.9' });
  t.throws(() => installLibrary(other, target), { message: /Its version is 9\.9\.9 but this rampart is .*--force/ });
  t.is(installLibrary(other, target, { force: true }).version, '9.9.9');
});

test('versions compare by semver', (t) => {
  t.is(compareVersions('0.10.0', '0.9.1'), 1);
  t.is(compareVersions('1.0.0-rc.1', '1.0.0'), -1);
  t.is(compareVersions('0.1.0', '0.1.0'), 0);
  t.throws(() => compareVersions('latest', '0.1.0'), { message: /not semantic versions/ });
});

// librarySettings is the library's own RAMPART_* parser (crates/settings): these pin what it says,
// including where it is more lenient or stricter than the CLI.
test('library settings: defaults', (t) => {
  t.deepEqual(librarySettings([], 4242), {
    url: 'http://127.0.0.1:9090',
    endpoint: 'http://127.0.0.1:9090/v1/preflight/exec',
    urlProblem: null,
    token: null,
    mode: 'enforce',
    failOpen: true,
    agent: 'preload',
    session: 'preload-4242',
    debug: false,
    notes: [],
  });
  // Other variables, empty values and entries without `=` change nothing.
  const noise = ['PATH=/bin', 'RAMPART_MODE=', 'RAMPART_TOKEN', 'RAMPART_AGENTS=x'];
  t.deepEqual(librarySettings(noise, 4242), librarySettings([], 4242));
});

test('library settings: RAMPART_MODE in any case, an unknown mode is enforce with a note', (t) => {
  const monitor = librarySettings(['RAMPART_MODE=Monitor'], 1);
  t.is(monitor.mode, 'monitor');
  t.deepEqual(monitor.notes, []);
  const unknown = librarySettings(['RAMPART_MODE=Off'], 1);
  t.is(unknown.mode, 'enforce');
  t.deepEqual(unknown.notes, ['RAMPART_MODE "off" is not enforce, monitor or disabled; using enforce']);
});

test('library settings: RAMPART_FAIL_OPEN=yes is open, an unknown flag fails closed with a note', (t) => {
  const failOpen = (value: string) => librarySettings([`RAMPART_FAIL_OPEN=${value}`], 1);
  for (const value of ['yes', 'true', 'ON', '1']) t.true(failOpen(value).failOpen, value);
  for (const value of ['no', 'false', 'Off', '0']) t.false(failOpen(value).failOpen, value);
  t.deepEqual(failOpen('yes').notes, []);
  const unknown = librarySettings(['RAMPART_FAIL_OPEN=maybe'], 1);
  t.false(unknown.failOpen);
  t.deepEqual(unknown.notes, ['RAMPART_FAIL_OPEN "maybe" is not 1 or 0; failing closed']);
});

test('library settings: a URL with a query is unusable', (t) => {
  const settings = librarySettings(['RAMPART_URL=http://127.0.0.1:9090/?x'], 1);
  t.is(settings.url, 'http://127.0.0.1:9090/?x');
  t.is(settings.endpoint, null);
  t.is(settings.urlProblem, 'RAMPART_URL is invalid: must not carry a query or fragment');
  t.deepEqual(settings.notes, []);
});

test('library settings: values are read as given, the first entry of a name wins', (t) => {
  const settings = librarySettings(
    ['RAMPART_URL=http://[::1]:7777/base/', 'RAMPART_TOKEN=tok', 'RAMPART_AGENT=codex', 'RAMPART_AGENT=second', 'RAMPART_SESSION=run-1', 'RAMPART_DEBUG=true'],
    1,
  );
  t.is(settings.endpoint, 'http://[::1]:7777/base/v1/preflight/exec');
  t.is(settings.token, 'tok');
  t.is(settings.agent, 'codex');
  t.is(settings.session, 'run-1');
  t.true(settings.debug);
  t.is(librarySettings(['RAMPART_URL=http://u:p@127.0.0.1:9090'], 1).urlProblem, 'RAMPART_URL must not contain user:password@ (use RAMPART_TOKEN)');
});

test('library settings: the pid must be a 32-bit unsigned integer', (t) => {
  t.is(librarySettings([], 4294967295).session, 'preload-4294967295');
  for (const pid of [-1, 1.5, 2 ** 32, Number.NaN]) {
    t.throws(() => librarySettings([], pid), { instanceOf: RangeError });
  }
});

test('library settings table: every variable with its default, and each default parses as unset does', (t) => {
  const table = librarySettingsTable();
  t.deepEqual(table, [
    { name: 'RAMPART_URL', default: 'http://127.0.0.1:9090' },
    { name: 'RAMPART_TOKEN', default: null },
    { name: 'RAMPART_MODE', default: 'enforce' },
    { name: 'RAMPART_FAIL_OPEN', default: '1' },
    { name: 'RAMPART_AGENT', default: 'preload' },
    { name: 'RAMPART_SESSION', default: 'preload-<pid>' },
    { name: 'RAMPART_DEBUG', default: '0' },
  ]);
  const unset = librarySettings([], 7);
  for (const { name, default: value } of table) {
    if (value === null) continue;
    t.deepEqual(librarySettings([`${name}=${value.replace('<pid>', '7')}`], 7), unset, name);
  }
});
