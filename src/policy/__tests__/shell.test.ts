// POL-SHELL: sanitize, split, tokenize, normalize, subcommands, rm canonicalisation,
// env assignments.
import test from 'ava';
import { analyze, envAssignments, extractSubcommands, normalize, posixBody, rmAliases, sanitize, splitCommand, tokenize } from '../shell.ts';

test('POL-SHELL-1 sanitize drops ANSI CSI and control characters but keeps TAB and LF', (t) => {
  t.is(sanitize('\x1b[31mrm\x1b[0m -rf\x00 /\t\n'), 'rm -rf /\t\n');
});

test('POL-SHELL-2 split on operators outside quotes; 2>&1 and &> are not separators', (t) => {
  t.deepEqual(splitCommand('a && b || c | d; e\nf & g'), ['a', 'b', 'c', 'd', 'e', 'f', 'g']);
  t.deepEqual(splitCommand('make 2>&1 | tee log'), ['make 2>&1', 'tee log']);
  t.deepEqual(splitCommand('cmd &> out'), ['cmd &> out']);
  t.deepEqual(splitCommand(`echo "a|b" 'c;d' e\\;f`), [`echo "a|b" 'c;d' e\\;f`]);
});

test('POL-SHELL-3 tokenize strips quotes and escapes; empty quotes give no token', (t) => {
  t.deepEqual(tokenize(`'r'm -r\\f "a b" ''`), ['rm', '-rf', 'a b']);
  t.deepEqual(tokenize('echo "x\\"y"'), ['echo', 'x"y']);
});

test('POL-SHELL-4 normalize: assignments, launchers, shell wrappers, redirections', (t) => {
  t.is(normalize('FOO=1 git status'), 'git status');
  t.is(normalize('nohup rm -rf /'), 'rm -rf /');
  t.is(normalize('env -i A=b nice -n 5 timeout -s KILL 10 rm -rf /'), 'rm -rf /');
  t.is(normalize(`bash -c 'a && b'`), 'a && b');
  t.is(normalize('sudo rm -rf /'), 'sudo rm -rf /');
  t.is(normalize('>out 2>&1 echo hi'), 'echo hi');
  t.is(normalize('env --bogus rm x'), 'env --bogus rm x');
  t.is(normalize(`'r'm   -rf    /`), 'rm -rf /');
});

test('POL-SHELL-5 subcommands: $( ), backticks, process substitution, eval', (t) => {
  t.deepEqual(extractSubcommands('echo $(rm -rf /)'), ['rm -rf /']);
  t.deepEqual(extractSubcommands('echo `id` <(cat x)'), ['id', 'cat x']);
  t.deepEqual(extractSubcommands(`eval 'rm -rf /'`), ['rm -rf /']);
  t.deepEqual(extractSubcommands('echo $(a $(b))'), ['a $(b)', 'b']);
});

test('POL-SHELL-6 components: split again after quotes are removed', (t) => {
  const a = analyze('echo "a|b"');
  t.true(a.composite);
  t.deepEqual(a.components, ['echo a', 'b']);
  t.deepEqual(analyze('git status').components, ['git status']);
  t.false(analyze('git status').composite);
});

test('POL-RESTR-1 POSIX body strips grouping and control keywords', (t) => {
  t.is(posixBody('( rm -rf / )'), 'rm -rf /');
  t.is(posixBody('if rm -rf /'), 'rm -rf /');
  t.is(posixBody('{ rm -rf /; }'), 'rm -rf /;');
});

test('POL-RESTR-3 rm canonical aliases: flags anywhere, busybox, find -delete and -exec', (t) => {
  t.deepEqual(rmAliases('rm --recursive --force /'), ['rm -rf /']);
  t.deepEqual(rmAliases('busybox rm -fR /etc/../'), ['rm -rf /']);
  t.deepEqual(rmAliases('rm -r x'), []);
  t.deepEqual(rmAliases('find / -delete'), ['rm -rf /']);
  t.deepEqual(rmAliases('find /home -exec rm -rf {} +'), ['rm -rf /home']);
  t.is(rmAliases(`rm -rf ${Array.from({ length: 300 }, (_, i) => `f${i}`).join(' ')}`), undefined);
});

test('POL-ENVA-1..2 env assignments in POSIX, env, export, cmd and PowerShell forms', (t) => {
  t.deepEqual(envAssignments('LD_PRELOAD=/x.so ls'), ['LD_PRELOAD']);
  t.deepEqual(envAssignments('env -u X PATH=/tmp ls'), ['PATH']);
  t.deepEqual(envAssignments('export A=1 B=2'), ['A', 'B']);
  t.deepEqual(envAssignments('$env:PATH = "C:\\x"'), ['PATH']);
  t.deepEqual(envAssignments("printf 'LD_PRELOAD=%s'"), []);
  t.deepEqual(envAssignments(`bash -c 'NODE_OPTIONS=--x node a.js'`), ['NODE_OPTIONS']);
});
