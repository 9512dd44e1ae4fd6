// POL-GLOB-2: every branch of MatchGlob and the listed consequences.
import test from 'ava';
import { compileDomainGlob, compileGlob, compilePathGlob, GlobSet } from '../glob.ts';

const m = (pattern: string, subject: string) => compileGlob(pattern).test(subject);

test('POL-GLOB-2 branch 1: "*" alone matches anything, including the empty string', (t) => {
  t.true(m('*', ''));
  t.true(m('*', 'a/b c'));
});

test('POL-GLOB-2: an empty pattern never matches; subjects over 8192 bytes never match', (t) => {
  t.false(m('', ''));
  t.false(m('', 'x'));
  t.false(m('*', 'x'.repeat(8193)));
  t.true(m('*', 'x'.repeat(8192)));
  t.false(m('a*', 'a' + 'é'.repeat(4096))); // 8193 bytes in UTF-8
});

test('POL-GLOB-2 branch 2: "**" crosses "/", single "*" and "?" do not', (t) => {
  t.true(m('rm -rf /**', 'rm -rf /usr/local/bin'));
  t.true(m('rm -rf /**', 'rm -rf /'));
  t.true(m('dd **of=/dev/sd**', 'dd if=/dev/zero of=/dev/sda bs=1M'));
  t.false(m('/**/rampart allow *', '/usr/bin/rampart allow /tmp/x'));
  t.true(m('/**/rampart allow *', '/usr/bin/rampart allow x'));
  t.true(m('**/a?c', 'x/abc'));
  t.false(m('**/a?c', 'x/a/c'));
});

test('POL-GLOB-2 branch 2: "**/" retries at zero depth; more than two "**" never matches', (t) => {
  t.true(m('**/.env', '.env'));
  t.true(m('**/.env', 'p/q/.env'));
  t.false(m('**/a/**/b/**', 'x/a/y/b/z'));
});

test('POL-GLOB-2 branch 2: classes, ranges, negation; classes never match "/"; malformed => no match', (t) => {
  t.true(m('**/file[0-9]', 'dir/file7'));
  t.false(m('**/file[0-9]', 'dir/filex'));
  t.true(m('**/file[^0-9]', 'dir/filex'));
  t.false(m('**a[^x]b', 'a/b'));
  t.false(m('**/file[', 'dir/file['));
  t.false(m('**/file[]', 'dir/file]'));
});

test('POL-GLOB-2 branch 3: trailing "*" is a literal prefix test that crosses "/" and spaces', (t) => {
  t.true(m('git *', 'git push origin/main'));
  t.true(m('rampart policy generate*', 'rampart policy generate --x /a/b'));
  // The prefix is literal even if it contains "*": falls through to step 4/5 when it fails.
  t.true(m('a*b*', 'a*bzzz'));
  t.true(m('a*b*', 'axxbyy')); // step 5: filepath.Match
  t.false(m('a*b*', 'ax/xbyy'));
});

test('POL-GLOB-2 branch 4: leading "*" = ordered substrings, unanchored, "?" and "[" literal', (t) => {
  t.true(m('*curl*localhost*', 'xx curl http://localhost:8080/a'));
  t.false(m('*curl*localhost*', 'localhost curl'));
  t.true(m('* | crontab -', 'echo x | crontab - && ls'));
  t.true(m('*a?b', 'za?bq'));
  t.false(m('*a?b', 'zaxb'));
});

test('POL-GLOB-2 branch 5: filepath.Match: whole string, "*" and "?" stop at "/"', (t) => {
  t.false(m('git * --force', 'git push origin/x --force'));
  t.true(m('git * --force', 'git push --force'));
  t.true(m('ls', 'ls'));
  t.false(m('ls', 'ls -la'));
  t.true(m('l?', 'ls'));
  t.true(m('[a-c]at', 'bat'));
  t.false(m('[a-c', 'a'));
});

test('POL-GLOB: backslashes become "/" in pattern and subject before matching', (t) => {
  t.true(m('C:\\Windows\\*', 'C:/Windows/System32'));
  t.true(m('**\\.ssh\\id_*', 'C:\\Users\\me\\.ssh\\id_rsa'));
  t.true(m('r/m', 'r\\m'));
});

test('POL-GLOB-2: matching is case-sensitive on Linux', (t) => {
  t.false(m('rm -rf /', 'RM -rf /'));
});

test('POL-GLOB-5 path globs are always the anchored NFA: "*" stays in a segment', (t) => {
  t.true(compilePathGlob('/etc/*').test('/etc/passwd'));
  t.false(compilePathGlob('/etc/*').test('/etc/ssh/sshd_config'));
  t.true(compilePathGlob('**/.ssh/id_*').test('~/.ssh/id_rsa'));
});

test('POL-GLOB-6 domain globs: lower-cased, trailing dot stripped, "*.x.io" does not match "x.io"', (t) => {
  t.true(compileDomainGlob('*.ngrok.io').test('Abc.NGROK.io.'));
  t.false(compileDomainGlob('*.ngrok.io').test('ngrok.io'));
});

test('GlobSet gives the same answers as testing each glob', (t) => {
  const patterns = ['git *', '/**/rampart allow *', '**/.env', '*curl*localhost*', 'ls', 'l?', '[a-c]at', 'rm -rf /**', 'x'];
  const set = new GlobSet(patterns.map(compileGlob));
  const subjects = ['git push', '/usr/bin/rampart allow x', 'a/.env', '.env', 'curl localhost', 'ls', 'lx', 'bat', 'rm -rf /etc', 'x', 'y', ''];
  for (const s of subjects)
    t.is(
      set.test(s),
      patterns.some((p) => m(p, s)),
      s,
    );
});
