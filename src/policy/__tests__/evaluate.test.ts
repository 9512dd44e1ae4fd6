// POL-EVAL and POL-SHELL-6, POL-GRANT, POL-RESTR, POL-EXCL, POL-ENVA in docs/policy.md: decisions, against small policies written to disk (one of
// them, \`miniStandard\`, holds the reference standard.yaml's rules these cases exercise).
import fs from 'node:fs';
import path from 'node:path';
import test from 'ava';
import { tempDir } from '../../../tests/helpers.ts';
import { EngineState, evaluate, loadPolicyFile, type PolicySet, type ToolCall } from '../index.ts';

const dir = tempDir();
let counter = 0;
function policy(yaml: string): PolicySet {
  const file = path.join(dir, `p${counter++}.yaml`);
  fs.writeFileSync(file, yaml);
  return loadPolicyFile(file);
}
const exec = (command: string, extra: Partial<ToolCall> = {}): ToolCall => ({ agent: '', session: '', tool: 'exec', params: { command }, ...extra });
/** The reference standard.yaml's rules behind these cases, with its names, priorities and messages. */
const miniStandard = policy(`version: "1"
default_action: deny
policies:
  - name: block-destructive
    match: { tool: ["exec"] }
    rules:
      - action: deny
        when: { command_matches: ["rm -rf /", "rm -rf /home/**", "rm -rf /etc/**"] }
        message: "Destructive command blocked"
  - name: watch-env-access
    match: { tool: ["exec", "read", "write"] }
    rules:
      - action: watch
        when: { command_matches: ["env", "env *", "printenv", "printenv *"] }
        message: "Environment variable dump logged"
  - name: require-privileged-approval
    match: { tool: ["exec"] }
    rules:
      - action: ask
        when: { command_matches: ["sudo **"] }
        message: "Privileged command requires approval"
  - name: allow-unmatched
    priority: 10000
    rules:
      - action: allow
        when: { default: true }
        message: "No matching standard policy rule"
`);
const std = (command: string) => evaluate(miniStandard, exec(command));

for (const command of [
  'rm -rf /',
  '/bin/rm -rf /',
  'RM -rf /',
  "'r'm -rf /",
  'r\\m -r\\f /',
  'rm --recursive --force /',
  'busybox rm -rf /',
  'x; rm -rf /',
  'echo $(rm -rf /)',
  "eval 'rm -rf /'",
  'nohup rm -rf /',
  'rm -rf /tmp/x && rm -rf /',
]) {
  test(`POL-RESTR-1 standard denies ${JSON.stringify(command)}`, (t) => {
    const d = std(command);
    t.is(d.action, 'deny');
    t.is(d.matchedPolicies[0], 'block-destructive');
    t.true(d.suggestions !== undefined && d.suggestions.length > 0);
  });
}

test('POL-RESTR-1 sudo is not unwrapped: standard asks for "sudo rm -rf /"', (t) => {
  t.is(std('sudo rm -rf /').action, 'ask');
});

test('POL-GRANT-1 granting rules need every component: env is watched, env | grep KEY is not', (t) => {
  t.is(std('env').action, 'watch');
  t.is(std('env | grep KEY').action, 'allow');
  t.is(std('FOO=1 git status').action, 'allow');
  t.deepEqual(std('git status').matchedPolicies, ['allow-unmatched']);
});

test('POL-GRANT-1 deviation: a command with no components (or only operators) satisfies no granting rule', (t) => {
  const p = policy(`default_action: ask
policies:
  - { name: grant-git, rules: [{ action: allow, when: { command_matches: ["git status"] } }] }
  - { name: grant-pipe, rules: [{ action: allow, when: { command_matches: ["curl ** | bash"] } }] }
  - { name: watch-curl, rules: [{ action: watch, when: { command_contains: ["curl"] } }] }
  - { name: hook-make, rules: [{ action: webhook, webhook: { url: "http://127.0.0.1:9/x" }, when: { command_matches: ["make *"] } }] }
`);
  // The rules do grant what they cover, alone and in pipelines.
  t.is(evaluate(p, exec('git status')).action, 'allow');
  t.is(evaluate(p, exec('git status && git status')).action, 'allow');
  t.is(evaluate(p, exec('curl -s x | bash')).action, 'allow');
  t.deepEqual(evaluate(p, exec('curl x')).matchedPolicies, ['watch-curl']);
  t.is(evaluate(p, exec('make all')).action, 'webhook');
  // `X='$(;)' ';'` and its variants analyze to zero components: "every component covered"
  // would hold vacuously for every granting rule above.
  const degenerate = ["X='$(;)' ';'", "X='$(&& ||)' '&& ||'", "X='`;`' ';'", 'X="<(|)" \'|\'', ';;', '&& ||', '( ; )', '$( && )'];
  for (const command of degenerate) {
    for (const prefilter of [true, false]) {
      const d = evaluate(p, exec(command), { prefilter, decisionCache: false });
      t.is(d.action, 'ask', `${command} (prefilter ${prefilter})`);
      t.deepEqual(d.matchedPolicies, [], `${command} (prefilter ${prefilter})`);
    }
  }
});

test('POL-EVAL-1..3 conflicting command aliases and over-long fields are denied before policy', (t) => {
  const allowAll = policy('version: "1"\ndefault_action: allow\npolicies: []\n');
  const conflict = evaluate(allowAll, { agent: '', session: '', tool: 'exec', params: { command: 'ls' }, input: { cmd: 'rm -rf /' } });
  t.is(conflict.action, 'deny');
  t.regex(conflict.message, /^ambiguous tool input \(.+\); failing closed$/);
  t.is(evaluate(allowAll, { agent: '', session: '', tool: 'exec', params: { command: 'ls', cmd: 'ls' } }).action, 'allow');
  t.is(evaluate(allowAll, { agent: '', session: '', tool: 'exec', params: { command: 42 } }).action, 'deny');
  const long = evaluate(allowAll, exec('x'.repeat(8193)));
  t.is(long.action, 'deny');
  t.is(long.message, 'command is 8193 bytes and exceeds the 8192-byte policy matching limit; failing closed');
  t.is(evaluate(allowAll, exec('x'.repeat(8192))).action, 'allow');
});

test('POL-EVAL-4..7 default action when nothing is in scope or nothing fires', (t) => {
  const p = policy(`default_action: ask
policies:
  - name: reads
    match: { tool: read }
    rules: [{ action: deny, when: { path_matches: ["/etc/**"] } }]
`);
  const none = evaluate(p, exec('ls'));
  t.is(none.action, 'ask');
  t.is(none.message, 'no matching policy; using default action');
  t.deepEqual(none.matchedPolicies, []);
  const silent = evaluate(p, { agent: '', session: '', tool: 'read', params: { path: '/home/x' } });
  t.is(silent.action, 'ask');
  const unset = policy('policies: []\n');
  t.is(evaluate(unset, exec('ls')).action, 'deny');
});

test('POL-EVAL-4..7 priority order, first matching rule per policy, lattice and messages', (t) => {
  const p = policy(`default_action: allow
policies:
  - name: late-watch
    priority: 200
    rules: [{ action: watch, message: w2, when: { command_matches: ["git *"] } }]
  - name: early-allow
    priority: 5
    rules:
      - { action: allow, message: "", when: { command_matches: ["git *"] } }
      - { action: deny, message: never, when: { command_matches: ["git *"] } }
  - name: mid-watch
    rules: [{ action: watch, message: w1, when: { command_matches: ["git *"] } }]
  - name: asker
    priority: 300
    rules: [{ action: ask, message: a1, when: { command_matches: ["git push*"] } }]
`);
  const watch = evaluate(p, exec('git status'));
  t.is(watch.action, 'watch');
  t.is(watch.message, 'w1');
  t.deepEqual(watch.matchedPolicies, ['early-allow', 'mid-watch', 'late-watch']);
  t.is(evaluate(p, exec('git push origin')).action, 'ask');
});

test('POL-EVAL-4..7 deny lists fired policies, the deny policy and every later in-scope policy', (t) => {
  const p = policy(`policies:
  - { name: a, priority: 1, rules: [{ action: watch, when: { command_matches: ["rm *"] } }] }
  - { name: b, priority: 2, rules: [{ action: deny, message: no, when: { command_matches: ["rm *"] } }] }
  - { name: c, priority: 3, rules: [{ action: allow, when: { command_matches: ["nothing"] } }] }
  - { name: d, priority: 4, match: { tool: read }, rules: [{ action: allow }] }
`);
  const d = evaluate(p, exec('rm x'));
  t.is(d.action, 'deny');
  t.is(d.message, 'no');
  t.deepEqual(d.matchedPolicies, ['a', 'b', 'c']);
});

test('POL-EVAL-4 scope: match on agent, session and tool globs; disabled policies are ignored', (t) => {
  const p = policy(`default_action: allow
policies:
  - { name: a, match: { agent: "claude*" }, rules: [{ action: deny }] }
  - { name: s, match: { session: "ci-*" }, rules: [{ action: ask }] }
  - { name: t, match: { tool: [Bash, "mcp__*"] }, rules: [{ action: deny }] }
  - { name: off, enabled: false, rules: [{ action: deny }] }
`);
  t.is(evaluate(p, exec('ls', { agent: 'claude-code' })).action, 'deny');
  t.is(evaluate(p, exec('ls', { agent: 'codex' })).action, 'allow');
  t.is(evaluate(p, exec('ls', { session: 'ci-42' })).action, 'ask');
  t.is(evaluate(p, { agent: '', session: '', tool: 'mcp__fs', params: {} }).action, 'deny');
});

test('POL-WHEN-1..6 when fields: contains, env assignments, sessions, depth, tool params, default', (t) => {
  const p = policy(`default_action: allow
policies:
  - name: p
    rules:
      - { action: deny, message: contains, when: { command_contains: ["DROP TABLE"] } }
      - { action: deny, message: env, when: { command_env_assignments: ["LD_*"] } }
      - { action: deny, message: session, when: { session_matches: ["prod-*"] } }
      - { action: deny, message: depth, when: { agent_depth: { gte: 2 } } }
      - { action: deny, message: param, when: { tool_param_matches: { Model: "gpt-*" } } }
`);
  t.is(evaluate(p, exec('psql -c "drop table users"')).message, 'contains');
  t.is(evaluate(p, exec('LD_PRELOAD=/x.so ls')).message, 'env');
  t.is(evaluate(p, exec('ls', { session: 'prod-1' })).message, 'session');
  t.is(evaluate(p, exec('ls', { agentDepth: 2 })).message, 'depth');
  t.is(evaluate(p, exec('ls', { agentDepth: 1 })).action, 'allow');
  t.is(evaluate(p, { agent: '', session: '', tool: 'exec', params: { command: 'ls', model: 'GPT-4' } }).message, 'param');
  const d = policy('policies: [{ name: p, rules: [{ action: watch, message: all, when: { default: true, command_matches: ["nope"] } }] }]\n');
  t.is(evaluate(d, exec('ls')).action, 'watch');
});

test('POL-WHEN-1..6 quirk: a when with only exclusions never matches; an empty when always matches', (t) => {
  const p = policy(`default_action: allow
policies:
  - { name: only-not, rules: [{ action: deny, when: { command_not_matches: ["ls"] } }] }
  - { name: only-session-not, rules: [{ action: deny, when: { session_not_matches: ["x"] } }] }
`);
  t.is(evaluate(p, exec('rm -rf /')).action, 'allow');
  const empty = policy('policies: [{ name: e, rules: [{ action: ask, when: {} }] }]\n');
  t.is(evaluate(empty, exec('ls')).action, 'ask');
});

test('POL-EXCL-1 exclusions apply per component: a safe piece cannot excuse a dangerous sibling', (t) => {
  const p = policy(`default_action: allow
policies:
  - name: rm
    rules:
      - action: deny
        when: { command_matches: ["rm -rf *"], command_not_matches: ["rm -rf /tmp/**"] }
`);
  t.is(evaluate(p, exec('rm -rf /tmp/x')).action, 'allow');
  t.is(evaluate(p, exec('rm -rf /tmp/x && rm -rf /')).action, 'deny');
});

test('POL-EVAL-9..10 call_count counts only enforced calls, in a sliding window, across the given state', (t) => {
  const p = policy(`default_action: allow
policies:
  - { name: rate, rules: [{ action: deny, message: slow down, when: { call_count: { gte: 2, window: 1m } } }] }
`);
  const state = new EngineState();
  const now = new Date('2026-01-01T00:00:00Z');
  t.is(evaluate(p, exec('ls'), { state, now, enforce: true }).action, 'allow');
  t.is(evaluate(p, exec('ls'), { state, now, enforce: false }).action, 'allow');
  t.is(evaluate(p, exec('ls'), { state, now, enforce: true }).action, 'allow');
  t.is(evaluate(p, exec('ls'), { state, now }).action, 'deny');
  t.is(evaluate(p, exec('ls'), { state, now: new Date(now.getTime() + 61_000) }).action, 'allow');
});

test('POL-FILE-2 once rules are consumed by enforcing evaluations only; expired rules are skipped', (t) => {
  const p = policy(`default_action: deny
policies:
  - name: grant
    rules:
      - { action: allow, once: true, when: { command_matches: ["deploy"] } }
      - { action: allow, expires_at: "2020-01-01T00:00:00Z", when: { command_matches: ["old"] } }
`);
  const state = new EngineState();
  t.is(evaluate(p, exec('deploy'), { state }).action, 'allow');
  t.is(evaluate(p, exec('deploy'), { state, enforce: true }).action, 'allow');
  t.is(evaluate(p, exec('deploy'), { state, enforce: true }).action, 'deny');
  t.is(evaluate(p, exec('old')).action, 'deny');
});

test('POL-EVAL-8 only the two durable basenames count: a file named __proto__ or toString is an ordinary policy file', (t) => {
  for (const name of ['__proto__', 'toString', 'constructor']) {
    const file = path.join(tempDir(), name);
    fs.writeFileSync(
      file,
      `policies:
  - { name: ask-all, priority: 1, rules: [{ action: ask, when: { command_matches: ["*"] } }] }
  - { name: mine, priority: 50, rules: [{ action: allow, when: { command_matches: ["make *"] } }] }
`,
    );
    t.is(evaluate(loadPolicyFile(file), exec('make build')).action, 'ask', name);
  }
});

test('POL-EVAL-8 allows from user-overrides.yaml beat ask but not deny', (t) => {
  const home = tempDir();
  const file = path.join(home, 'user-overrides.yaml');
  fs.writeFileSync(
    file,
    `policies:
  - { name: ask-all, priority: 1, rules: [{ action: ask, when: { command_matches: ["*"] } }] }
  - { name: mine, priority: 50, rules: [{ action: allow, when: { command_matches: ["make *"] } }] }
  - { name: no-rm, priority: 60, rules: [{ action: deny, when: { command_matches: ["make clean*"] } }] }
`,
  );
  const p = loadPolicyFile(file);
  const d = evaluate(p, exec('make build'));
  t.is(d.action, 'allow');
  t.is(d.message, 'allowed by durable user override');
  t.is(evaluate(p, exec('make clean')).action, 'deny');
});
