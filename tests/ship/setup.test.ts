// `rampart setup <agent>` (docs/cli.md CLI-SETUP-1..3): the wrapper at
// ~/.local/bin/codex runs the real codex under preload, never itself; --force, --remove, refusals.
import test from 'ava';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { forbiddenMarkerPolicy, run, runCli, tempDir } from '../helpers.ts';
import { startServer, type RunningServer } from '../../src/server/server.ts';

const POLICY = forbiddenMarkerPolicy('setup');

// A fake codex: shows how it was started, does one allowed and one denied thing.
const FAKE_CODEX = `#!/bin/sh
echo "fake-codex args=$* agent=$RAMPART_AGENT preload=$LD_PRELOAD"
touch "$MARK_DIR/allowed-ran"
touch "$MARK_DIR/forbidden-marker"
echo "denied-exit=$?"
`;

let server: RunningServer;
const token = crypto.randomBytes(16).toString('hex');

test.before(async () => {
  const dir = tempDir();
  fs.writeFileSync(path.join(dir, 'policy.yaml'), POLICY);
  server = await startServer({
    addr: '127.0.0.1',
    port: 0,
    mode: 'enforce',
    token,
    policy: { configFile: path.join(dir, 'policy.yaml'), home: dir },
    auditDir: path.join(dir, 'audit'),
  });
});
test.after.always(async () => server?.close());

interface World {
  home: string;
  wrapperDir: string;
  realDir: string;
  marks: string;
  /** PATH as a user would have it: ~/.local/bin first, then the real codex, then the system. */
  path: string;
  env: NodeJS.ProcessEnv;
}

function world(withRealCodex = true): World {
  const home = tempDir();
  const wrapperDir = path.join(home, '.local', 'bin');
  const realDir = tempDir('rampart-real-codex-');
  if (withRealCodex) fs.writeFileSync(path.join(realDir, 'codex'), FAKE_CODEX, { mode: 0o755 });
  const marks = tempDir('rampart-marks-');
  const envPath = [wrapperDir, realDir, '/usr/local/bin', '/usr/bin', '/bin'].join(':');
  return {
    home,
    wrapperDir,
    realDir,
    marks,
    path: envPath,
    env: { HOME: home, PATH: envPath, MARK_DIR: marks, RAMPART_URL: server.url, RAMPART_TOKEN: token },
  };
}

const setup = (w: World, args: string[]) => runCli(['setup', ...args], w.env);
/** Runs `codex` the way a user types it: found on PATH. */
const codex = (w: World, args: string[] = []) => run('codex', args, { env: { ...process.env, ...w.env }, cwd: w.marks, timeoutMs: 60_000 });

test('the wrapper runs the real codex under preload: allowed things run, a denied command is blocked', async (t) => {
  const w = world();
  const installed = await setup(w, ['codex']);
  t.is(installed.code, 0, installed.stderr);
  const wrapper = path.join(w.wrapperDir, 'codex');
  t.true(installed.stdout.includes(`installed ${wrapper}: runs the first codex on PATH (now ${path.join(w.realDir, 'codex')})`), installed.stdout);
  t.regex(installed.stdout, /~\/\.local\/bin is on your PATH before .*: `codex` now runs under rampart\./);
  t.is(fs.statSync(wrapper).mode & 0o777, 0o755);

  const ran = await codex(w, ['exec', 'hello world']);
  t.is(ran.code, 0, ran.stderr);
  t.regex(ran.stdout, /fake-codex args=exec hello world agent=codex preload=\S*librampart\.so/);
  t.true(fs.existsSync(path.join(w.marks, 'allowed-ran')));
  t.false(fs.existsSync(path.join(w.marks, 'forbidden-marker')), 'the denied touch must not run');
  t.regex(ran.stdout, /denied-exit=[1-9]/);
  t.true(ran.stderr.split('\n').includes('rampart: blocked — setup test forbids this'), ran.stderr);

  const again = await setup(w, ['codex']);
  t.is(again.code, 0);
  t.regex(again.stdout, /^updated /m, 'running setup again updates our own wrapper');
});

test('the wrapper never runs itself: its own directory (under any name) and other wrappers are skipped', async (t) => {
  const w = world(false);
  t.is((await setup(w, ['codex'])).code, 0);
  // The same directory again through a symlink, and another user's wrapper copied elsewhere.
  const alias = path.join(tempDir(), 'alias');
  fs.symlinkSync(w.wrapperDir, alias);
  const otherWrapperDir = tempDir();
  fs.copyFileSync(path.join(w.wrapperDir, 'codex'), path.join(otherWrapperDir, 'codex'));
  fs.chmodSync(path.join(otherWrapperDir, 'codex'), 0o755);
  const envPath = [w.wrapperDir, alias, otherWrapperDir, '/usr/bin', '/bin'].join(':');
  const ran = await run('codex', [], { env: { ...process.env, ...w.env, PATH: envPath }, timeoutMs: 30_000 });
  t.is(ran.code, 127, ran.stderr);
  t.regex(ran.stderr, /rampart: no codex found on PATH besides the rampart wrapper .*install it, or point the wrapper at it: rampart setup codex --bin/);
});

test('an existing codex in ~/.local/bin is kept unless --force; --force keeps running it; --remove puts it back', async (t) => {
  const w = world(false);
  fs.mkdirSync(w.wrapperDir, { recursive: true });
  const original = path.join(w.wrapperDir, 'codex');
  fs.writeFileSync(original, FAKE_CODEX, { mode: 0o755 });

  const refused = await setup(w, ['codex']);
  t.is(refused.code, 1);
  t.regex(refused.stderr, /exists and is not a rampart wrapper; left it alone\. Use --force/);
  t.is(fs.readFileSync(original, 'utf8'), FAKE_CODEX);

  const forced = await setup(w, ['codex', '--force']);
  t.is(forced.code, 0, forced.stderr);
  const backup = path.join(w.home, '.rampart', 'setup', 'codex.replaced');
  t.true(forced.stdout.includes(`moved the existing ${original} to ${backup}`), forced.stdout);
  t.true(forced.stdout.includes(`runs ${backup} under rampart preload`), forced.stdout);
  const ran = await codex(w, ['x']);
  t.is(ran.code, 0, ran.stderr);
  t.regex(ran.stdout, /fake-codex args=x agent=codex preload=\S*librampart\.so/);

  const removed = await setup(w, ['codex', '--remove']);
  t.is(removed.code, 0, removed.stderr);
  t.regex(removed.stdout, /removed the rampart wrapper/);
  t.regex(removed.stdout, /put back the file it had replaced/);
  t.is(fs.readFileSync(original, 'utf8'), FAKE_CODEX);
  t.false(fs.existsSync(backup));

  const notOurs = await setup(w, ['codex', '--remove']);
  t.is(notOurs.code, 1);
  t.regex(notOurs.stderr, /is not a rampart wrapper; left it alone/);
  t.true(fs.existsSync(original));
});

test('--bin fixes the program; bad --bin values, agent names and flag mixes are refused', async (t) => {
  const w = world(false);
  const elsewhere = path.join(tempDir(), 'codex-real');
  fs.writeFileSync(elsewhere, FAKE_CODEX, { mode: 0o755 });
  const fixed = await setup(w, ['codex', '--bin', elsewhere]);
  t.is(fixed.code, 0, fixed.stderr);
  t.true(fixed.stdout.includes(`runs ${elsewhere} under rampart preload --agent codex`), fixed.stdout);
  const ran = await codex(w);
  t.is(ran.code, 0, ran.stderr);
  t.regex(ran.stdout, /fake-codex args= agent=codex/);

  const missing = await setup(w, ['codex', '--bin', path.join(w.home, 'nope')]);
  t.is(missing.code, 1);
  t.regex(missing.stderr, /--bin .*nope: no such file/);
  const notExecutable = path.join(w.home, 'plain');
  fs.writeFileSync(notExecutable, 'x');
  t.regex((await setup(w, ['codex', '--bin', notExecutable])).stderr, /not executable/);
  const wrapperAsBin = await setup(w, ['other', '--bin', path.join(w.wrapperDir, 'codex')]);
  t.is(wrapperAsBin.code, 1);
  t.regex(wrapperAsBin.stderr, /is itself a rampart wrapper/);

  const badName = await setup(w, ['../evil']);
  t.is(badName.code, 1);
  t.regex(badName.stdout + badName.stderr, /agent name "\.\.\/evil"/);
  const mixed = await setup(w, ['codex', '--remove', '--force']);
  t.is(mixed.code, 1);
  t.regex(mixed.stdout + mixed.stderr, /--remove takes no --bin or --force/);
  const nothing = await setup(world(false), ['codex', '--remove']);
  t.is(nothing.code, 0, nothing.stdout + nothing.stderr);
  t.regex(nothing.stdout, /nothing to remove/);
});

test('setup says when ~/.local/bin is missing from PATH or comes after the real codex', async (t) => {
  const w = world();
  const absent = await runCli(['setup', 'codex'], { ...w.env, PATH: [w.realDir, '/usr/bin', '/bin'].join(':') });
  t.is(absent.code, 0, absent.stderr);
  t.regex(absent.stdout, /~\/\.local\/bin is not on your PATH, so `codex` does not reach the wrapper yet: add export PATH="\$HOME\/\.local\/bin:\$PATH"/);
  const late = await runCli(['setup', 'codex'], { ...w.env, PATH: [w.realDir, w.wrapperDir, '/usr/bin', '/bin'].join(':') });
  t.is(late.code, 0, late.stderr);
  t.true(
    late.stdout.includes(`~/.local/bin comes after ${w.realDir} on your PATH, so \`codex\` still runs ${path.join(w.realDir, 'codex')} unprotected`),
    late.stdout,
  );
});
