// `rampart lib path|verify|install` run as a user runs them: the built CLI, a temporary HOME,
// real library files. Some cases run an "installed" copy of the package (dist/, native/,
// package.json, node_modules) outside the source checkout, so no target/release build is found.
// Guards docs/cli.md CLI-LIB-1..3, "Library installation" (ls -la ~/.rampart/lib/ shows librampart.so)
// and "Troubleshooting" ("librampart.so not found").
import fs from 'node:fs';
import path from 'node:path';
import test from 'ava';
import { buildFakeLibrary, optionalSymbols, requiredSymbols, runProgram } from '../../src/native/__tests__/fake-library.ts';
import { cliPath, libraryPath, repoRoot, tempDir } from '../helpers.ts';

const VERSION = (JSON.parse(fs.readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as { version: string }).version;
const platformPackage = '@rampart/core-linux-x64-gnu';
const addonFile = 'rampart.linux-x64-gnu.node';

const fixtures = tempDir('rampart-lib-');

/** A fresh directory under this file's one temporary directory (e.g. a HOME). */
function freshDir(prefix: string): string {
  return fs.mkdtempSync(path.join(fixtures, prefix));
}

interface InstalledPackage {
  root: string;
  cli: string;
}

/** A copy of the package as npm would install it, with or without the addon. */
function installedPackage(options: { addon: boolean; platformLibrary?: string }): InstalledPackage {
  const root = path.join(freshDir('pkg-'), 'rampart');
  fs.mkdirSync(path.join(root, 'native'), { recursive: true });
  fs.cpSync(path.join(repoRoot, 'dist'), path.join(root, 'dist'), { recursive: true });
  fs.copyFileSync(path.join(repoRoot, 'package.json'), path.join(root, 'package.json'));
  fs.copyFileSync(path.join(repoRoot, 'native', 'binding.cjs'), path.join(root, 'native', 'binding.cjs'));
  if (options.addon) fs.copyFileSync(path.join(repoRoot, 'native', addonFile), path.join(root, 'native', addonFile));
  // node_modules: the real dependencies, plus the platform package when asked for.
  const modules = path.join(root, 'node_modules');
  fs.mkdirSync(modules);
  for (const entry of fs.readdirSync(path.join(repoRoot, 'node_modules'))) {
    fs.symlinkSync(path.join(repoRoot, 'node_modules', entry), path.join(modules, entry));
  }
  if (options.platformLibrary) {
    const dir = path.join(modules, ...platformPackage.split('/'));
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: platformPackage, version: VERSION, main: addonFile }));
    fs.copyFileSync(options.platformLibrary, path.join(dir, 'librampart.so'));
  }
  return { root, cli: path.join(root, 'dist', 'cli.js') };
}

function runInstalled(pkg: InstalledPackage, args: string[], home: string) {
  return runProgram(process.execPath, [pkg.cli, ...args], { ...process.env, HOME: home });
}

/** The CLI of this checkout (dist/cli.js), as `npx rampart` runs it. */
function runCli(args: string[], env: NodeJS.ProcessEnv) {
  return runProgram(process.execPath, [cliPath, ...args], { ...process.env, ...env });
}

test('installed package, nothing installed: lib path says not found, lists where it looked, exit 1', async (t) => {
  const home = freshDir('home-');
  const pkg = installedPackage({ addon: true });
  for (const command of [
    ['lib', 'path'],
    ['lib', 'verify'],
    ['lib', 'install'],
  ]) {
    const result = await runInstalled(pkg, command, home);
    t.is(result.code, 1, command.join(' '));
    t.is(result.stdout, '');
    const lines = result.stderr.split('\n');
    t.is(lines[0], 'librampart.so not found. Searched:');
    t.regex(lines[1]!, new RegExp(`^  ${home}/\\.rampart/lib/librampart\\.so +\\(home\\)$`));
    t.regex(lines[2]!, /^ {2}\/usr\/local\/lib\/librampart\.so +\(usr-local\)$/);
    t.true(result.stderr.includes(`${pkg.root}/dist/librampart.so`));
    t.true(result.stderr.includes('rampart lib install --from /path/to/librampart.so'));
    t.true(result.stderr.includes('cargo build --release -p rampart-preload'));
  }
});

test('lib install --from puts librampart.so in ~/.rampart/lib; path and verify then find it', async (t) => {
  const home = freshDir('home-');
  const pkg = installedPackage({ addon: true });
  const lib = await buildFakeLibrary(fixtures, { version: VERSION });
  const installed = path.join(home, '.rampart', 'lib', 'librampart.so');

  const install = await runInstalled(pkg, ['lib', 'install', '--from', lib], home);
  t.is(install.code, 0, install.stderr);
  t.is(install.stdout, `installed librampart.so ${VERSION} to ${installed}\n  from ${lib}\n`);

  // The check docs/cli.md CLI-LIB-1 tells users to run.
  const ls = await runProgram('ls', ['-la', path.join(home, '.rampart', 'lib') + '/']);
  t.regex(ls.stdout, /^-rwxr-xr-x .* librampart\.so$/m);

  const where = await runInstalled(pkg, ['lib', 'path'], home);
  t.is(where.code, 0);
  t.is(where.stdout, `${installed}\n`);
  t.is(where.stderr, '');

  const verify = await runInstalled(pkg, ['lib', 'verify'], home);
  t.is(verify.code, 0, verify.stdout);
  t.deepEqual(verify.stdout.trimEnd().split('\n'), [
    `library:  ${installed}`,
    'format:   ELF64 x86_64 shared object (host: x86_64)',
    `exports:  ${requiredSymbols.length}/${requiredSymbols.length} required symbols`,
    `optional: ${optionalSymbols.length}/${optionalSymbols.length} symbols`,
    `version:  ${VERSION} (rampart ${VERSION})`,
    'ok',
  ]);
  const json = await runInstalled(pkg, ['lib', 'verify', '--json'], home);
  t.is(json.code, 0);
  const report = JSON.parse(json.stdout) as { ok: boolean; path: string; version: string };
  t.like(report, { ok: true, path: installed, version: VERSION });

  const again = await runInstalled(pkg, ['lib', 'install', '--from', lib], home);
  t.is(again.code, 0);
  t.is(again.stdout, `${installed} is already this library (version ${VERSION}); nothing to do\n`);
});

test('lib path shows a broken installed library with a warning; lib install never copies it onto itself', async (t) => {
  const home = freshDir('home-');
  const pkg = installedPackage({ addon: true });
  const installed = path.join(home, '.rampart', 'lib', 'librampart.so');
  fs.mkdirSync(path.dirname(installed), { recursive: true });
  fs.copyFileSync(await buildFakeLibrary(fixtures, { version: VERSION, omit: ['execve'] }), installed);

  const where = await runInstalled(pkg, ['lib', 'path'], home);
  t.is(where.code, 0);
  t.is(where.stdout, `${installed}\n`);
  t.is(
    where.stderr,
    `warning: ${installed} is not usable (see rampart lib verify): It does not export execve (every required symbol in crates/preload/exports.txt must be defined).\n`,
  );

  const verify = await runInstalled(pkg, ['lib', 'verify'], home);
  t.is(verify.code, 1);
  t.is(verify.stdout.trimEnd().split('\n').at(-1), 'not ok: 1 problem');

  // The installed file is the install target, so it is not a source: nothing else exists here.
  const install = await runInstalled(pkg, ['lib', 'install'], home);
  t.is(install.code, 1);
  t.true(install.stderr.startsWith('librampart.so not found. Searched:\n'));
});

test('lib install without --from installs the platform package library', async (t) => {
  const home = freshDir('home-');
  const lib = await buildFakeLibrary(fixtures, { version: VERSION });
  const pkg = installedPackage({ addon: true, platformLibrary: lib });
  const before = await runInstalled(pkg, ['lib', 'path'], home);
  t.is(before.stdout, `${path.join(pkg.root, 'node_modules', platformPackage, 'librampart.so')}\n`);
  const install = await runInstalled(pkg, ['lib', 'install'], home);
  t.is(install.code, 0, install.stderr);
  const installed = path.join(home, '.rampart', 'lib', 'librampart.so');
  t.deepEqual(fs.readFileSync(installed), fs.readFileSync(lib));
  t.is((await runInstalled(pkg, ['lib', 'path'], home)).stdout, `${installed}\n`);
});

test('lib verify reports a broken library readably and as JSON, exit 1', async (t) => {
  const home = freshDir('home-');
  const incomplete = await buildFakeLibrary(fixtures, { version: '0.0.1', omit: ['posix_spawn'] });
  const result = await runCli(['lib', 'verify', incomplete], { HOME: home });
  t.is(result.code, 1);
  const lines = result.stdout.trimEnd().split('\n');
  t.is(lines[0], `library:  ${incomplete}`);
  t.is(lines[2], `exports:  ${requiredSymbols.length - 1}/${requiredSymbols.length} required symbols`);
  t.true(lines.includes(`problem:  It does not export posix_spawn (every required symbol in crates/preload/exports.txt must be defined).`));
  t.true(lines.some((line) => line.startsWith('problem:  Its version is 0.0.1 but this rampart is')));
  t.is(lines.at(-1), 'not ok: 2 problems');

  const text = path.join(fixtures, 'readme.txt');
  fs.writeFileSync(text, 'not a library');
  const json = await runCli(['lib', 'verify', '--json', text], { HOME: home });
  t.is(json.code, 1);
  t.like(JSON.parse(json.stdout), { ok: false, problems: ['It is not an ELF file (it does not start with \\x7fELF).'] });
});

test('lib verify: a library built against an older libc (no optional symbols) is ok and names them', async (t) => {
  const home = freshDir('home-');
  const older = await buildFakeLibrary(fixtures, { version: VERSION, omit: optionalSymbols });
  const result = await runCli(['lib', 'verify', older], { HOME: home });
  t.is(result.code, 0, result.stdout);
  const lines = result.stdout.trimEnd().split('\n');
  t.is(lines[2], `exports:  ${requiredSymbols.length}/${requiredSymbols.length} required symbols`);
  t.is(lines[3], `optional: 0/${optionalSymbols.length} symbols (not built in: ${optionalSymbols.join(', ')})`);
  t.is(lines.at(-1), 'ok');
});

test('lib install refuses a downgrade or another version unless --force; --dir picks the directory', async (t) => {
  const home = freshDir('home-');
  const dir = path.join(fixtures, 'custom-lib-dir');
  const newer = await buildFakeLibrary(fixtures, { version: '99.0.0' });
  const current = await buildFakeLibrary(fixtures, { version: VERSION });

  const mismatch = await runCli(['lib', 'install', '--dir', dir, '--from', newer], { HOME: home });
  t.is(mismatch.code, 1);
  t.regex(mismatch.stderr, /^rampart: .* is not a usable library: Its version is 99\.0\.0 .* Use --force to install it anyway\.\n$/);
  t.false(fs.existsSync(dir));

  const forced = await runCli(['lib', 'install', '--dir', dir, '--from', newer, '--force'], { HOME: home });
  t.is(forced.code, 0, forced.stderr);
  t.true(forced.stdout.startsWith(`installed librampart.so 99.0.0 to ${dir}/librampart.so`));

  const downgrade = await runCli(['lib', 'install', '--dir', dir, '--from', current], { HOME: home });
  t.is(downgrade.code, 1);
  t.regex(downgrade.stderr, /is version 99\.0\.0, newer than .*refusing to downgrade it \(use --force/);
  t.deepEqual(fs.readFileSync(path.join(dir, 'librampart.so')), fs.readFileSync(newer));

  const replaced = await runCli(['lib', 'install', '--dir', dir, '--from', current, '--force'], { HOME: home });
  t.is(replaced.code, 0, replaced.stderr);
  t.regex(replaced.stdout, /\(replaced version 99\.0\.0\)/);
  t.false(fs.existsSync(path.join(home, '.rampart')), '--dir leaves ~/.rampart alone');
});

test('bad input: unknown flags are usage errors; --from a missing file says so', async (t) => {
  const home = freshDir('home-');
  const bogus = await runCli(['lib', 'verify', '--bogus'], { HOME: home });
  t.is(bogus.code, 1);
  t.regex(bogus.stdout, /Unsupported option name \("--bogus"\)/);
  const missing = await runCli(['lib', 'install', '--from', path.join(fixtures, 'nope.so')], { HOME: home });
  t.is(missing.code, 1);
  t.is(missing.stderr, `rampart: ${path.join(fixtures, 'nope.so')} is not a usable library: It cannot be read: No such file or directory.\n`);
});

test('without the native addon: a clear message on how to get it, no stack trace', async (t) => {
  const home = freshDir('home-');
  const pkg = installedPackage({ addon: false });
  for (const command of [
    ['lib', 'path'],
    ['lib', 'verify'],
    ['lib', 'install'],
  ]) {
    const result = await runInstalled(pkg, command, home);
    t.is(result.code, 1, command.join(' '));
    t.true(result.stderr.startsWith('rampart: the platform package @rampart/core-linux-x64-gnu is not installed'), result.stderr);
    t.true(result.stderr.includes('npm install'));
    t.true(result.stderr.includes('cargo build --release -p rampart-preload'));
    t.notRegex(result.stderr, /^\s+at /m, 'no stack trace');
  }
});

test('in the source checkout, lib install installs the freshly built target/release/librampart.so', async (t) => {
  const home = freshDir('home-');
  const result = await runCli(['lib', 'install'], { HOME: home });
  t.is(result.code, 0, result.stderr);
  t.true(result.stdout.includes(`from ${libraryPath}`));
  t.deepEqual(fs.readFileSync(path.join(home, '.rampart', 'lib', 'librampart.so')), fs.readFileSync(libraryPath));
});
