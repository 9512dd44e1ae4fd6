// Policy files -> PolicySet (POL-FILE-1..3, POL-SRC-1..5). Strict: unknown keys, wrong shapes and
// every POL-LOAD-1 validation failure reject the file with file:line: reason. Globs are compiled here
// so evaluate() does no parsing; `when:` conditions by their kinds (conditions.ts).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { isSeq, type Node } from 'yaml';
import { builtinPolicyPath } from '../util/paths.ts';
import { compileCondition } from './conditions.ts';
import { checkedGlob, parseGoDuration } from './fields.ts';
import type { Glob } from './glob.ts';
import type { Policy, PolicyFile, Rule, TestCase } from './model.ts';
import { PolicyLoadError, type Action } from './types.ts';
import { MAX_FILE_BYTES, YamlReader } from './yaml-reader.ts';

/** Policies ready for evaluate(): merged from one or more files, globs compiled. */
export interface PolicySet {
  /** The file's default_action; empty or unknown reads as deny. */
  readonly defaultAction: Action;
  readonly policyCount: number;
  readonly ruleCount: number;
  /** Files (or `builtin:standard`) the policies came from, in load order. */
  readonly sources: string[];
  /** Parsed policies in file order (evaluate() sorts by priority). */
  readonly policies: readonly Policy[];
  /** Inline `tests:` of the files (rampart test FILE). */
  readonly tests: readonly TestCase[];
}

export interface ServeStoreOptions {
  /** `--config FILE`; absent -> the built-in policy plus ~/.rampart/policies. */
  configFile?: string;
  /** `--config-dir DIR`: every *.yaml / *.yml in it. */
  configDir?: string;
  /** Home directory holding .rampart/ (default: os.homedir()). */
  home?: string;
}

export const BUILTIN_SOURCE = 'builtin:standard';
const ACTIONS: Record<string, Action> = { allow: 'allow', deny: 'deny', ask: 'ask', watch: 'watch', log: 'watch', webhook: 'webhook' };
const DEFAULT_ACTIONS: Record<string, Action> = { allow: 'allow', deny: 'deny', ask: 'ask', watch: 'watch', log: 'watch' };

/** One file, as `rampart test FILE` / `rampart bench --policy` / wrap read it. */
export function loadPolicyFile(file: string): PolicySet {
  const parsed = parsePolicyFile(file);
  return toSet([parsed], parsed.defaultAction);
}

/** The serve store (POL-SRC-1..5, with our built-in policy standing in for upstream's embedded one). */
export function loadServePolicies(opts: ServeStoreOptions): PolicySet {
  let primary: PolicyFile;
  let dirFiles: string[];
  if (opts.configFile !== undefined) {
    primary = parsePolicyFile(opts.configFile);
    dirFiles = opts.configDir !== undefined ? policyFilesIn(opts.configDir) : [];
  } else {
    primary = parsePolicyFile(builtinPolicyPath, BUILTIN_SOURCE);
    const dirs = [homePolicyDir(opts.home), ...(opts.configDir !== undefined ? [opts.configDir] : [])];
    dirFiles = [...new Set(dirs.flatMap((dir) => (fs.existsSync(dir) || dir === opts.configDir ? policyFilesIn(dir) : [])))].sort();
  }
  const dir = mergeDirectory(dirFiles.map((file) => parsePolicyFile(file)));
  let files: PolicyFile[];
  if (opts.configFile !== undefined) {
    // Primary first; on a name clash the primary file wins and the dir policy is skipped.
    const taken = new Set(primary.policies.map((p) => p.name));
    files = [primary, ...dir.map((f) => ({ ...f, policies: f.policies.filter((p) => !taken.has(p.name)) }))];
  } else {
    // Dir policies replace built-in ones of the same name.
    const replaced = new Set(dir.flatMap((f) => f.policies.map((p) => p.name)));
    files = [{ ...primary, policies: primary.policies.filter((p) => !replaced.has(p.name)) }, ...dir];
  }
  const defaultAction = files.map((f) => f.defaultAction).find((a) => a !== '') ?? '';
  const set = toSet(files, defaultAction);
  if (set.policyCount === 0 && defaultAction === '') {
    throw new PolicyLoadError(files.map((f) => f.source).join(', '), undefined, 'no policies and no default_action: refusing an empty policy set');
  }
  return set;
}

/** Files and directories whose changes should trigger a reload (existing ones only). */
export function watchTargets(opts: ServeStoreOptions): string[] {
  return policySources(opts).filter((t) => fs.existsSync(t));
}

/** Policy sources that do not exist yet (e.g. ~/.rampart/policies before its first file): watch for their creation. */
export function missingWatchTargets(opts: ServeStoreOptions): string[] {
  return policySources(opts).filter((t) => !fs.existsSync(t));
}

function policySources(opts: ServeStoreOptions): string[] {
  const targets = [opts.configFile ?? builtinPolicyPath];
  if (opts.configFile === undefined) targets.push(homePolicyDir(opts.home));
  if (opts.configDir !== undefined) targets.push(opts.configDir);
  return [...new Set(targets.map((t) => path.resolve(t)))];
}

export function homePolicyDir(home: string | undefined): string {
  return path.join(home ?? os.homedir(), '.rampart', 'policies');
}

function policyFilesIn(dir: string): string[] {
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch (err) {
    throw new PolicyLoadError(dir, undefined, `cannot read policy directory: ${(err as Error).message}`);
  }
  return names
    .filter((n) => /\.ya?ml$/i.test(n))
    .map((n) => path.join(dir, n))
    .filter((f) => fs.statSync(f).isFile())
    .sort();
}

/** POL-SRC-1..5 directory merge: duplicate names across files are an error (one upstream exception). */
function mergeDirectory(files: PolicyFile[]): PolicyFile[] {
  const seen = new Map<string, string>();
  return files.map((file) => {
    const kept = file.policies.filter((policy) => {
      const earlier = seen.get(policy.name);
      if (earlier === undefined) {
        seen.set(policy.name, file.source);
        return true;
      }
      const pair = new Set([path.basename(earlier), path.basename(file.source)]);
      if (policy.name === 'block-self-modification' && pair.has('openclaw.yaml') && pair.has('standard.yaml')) return false;
      throw new PolicyLoadError(file.source, undefined, `duplicate policy name "${policy.name}" (also defined in ${earlier})`);
    });
    return { ...file, policies: kept };
  });
}

function toSet(files: PolicyFile[], defaultAction: string): PolicySet {
  const policies = files.flatMap((f) => f.policies);
  return {
    defaultAction: DEFAULT_ACTIONS[defaultAction] ?? 'deny',
    policyCount: policies.length,
    ruleCount: policies.reduce((n, p) => n + p.rules.length, 0),
    sources: files.map((f) => f.source),
    policies,
    tests: files.flatMap((f) => f.tests),
  };
}

/** Reads and validates one policy file. `label` replaces the path in `source` (built-in). */
export function parsePolicyFile(file: string, label?: string): PolicyFile {
  const text = readPolicyText(file);
  const { reader, root } = YamlReader.parse(file, text);
  return parsePolicyDocument(reader, root, label ?? file, ['version', 'default_action', 'policies', 'notify', 'tests']);
}

export function readPolicyText(file: string): string {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new PolicyLoadError(file, undefined, code === 'ENOENT' ? 'file not found' : `cannot read file: ${(err as Error).message}`);
  }
  if (!stat.isFile()) throw new PolicyLoadError(file, undefined, 'not a regular file');
  if (stat.size > MAX_FILE_BYTES) throw new PolicyLoadError(file, undefined, `file is larger than 1 MiB (${stat.size} bytes)`);
  return fs.readFileSync(file, 'utf8');
}

/** The body of a policy file; `topKeys` lets suite files add `policy`. */
export function parsePolicyDocument(reader: YamlReader, root: Node | null, source: string, topKeys: readonly string[]): PolicyFile {
  if (reader.isNull(root)) reader.fail(root, 'the document is empty');
  const top = reader.mapping(root, 'the top level', topKeys);
  const version = reader.string(top.get('version'), 'version').trim();
  if (version !== '' && version !== '1') reader.fail(top.get('version'), `unsupported version "${version}" (only "1")`);
  const defaultNode = top.get('default_action');
  const defaultAction = reader.string(defaultNode, 'default_action').trim().toLowerCase();
  if (defaultAction === 'require_approval') reader.fail(defaultNode, 'default_action "require_approval" was removed in v0.9.9; use "ask"');
  if (defaultAction !== '' && !(defaultAction in DEFAULT_ACTIONS)) {
    reader.fail(defaultNode, `unknown default_action "${defaultAction}" (allowed: allow, deny, ask, watch, log)`);
  }
  const policies: Policy[] = [];
  const names = new Map<string, number | undefined>();
  reader.list(top.get('policies'), 'policies').forEach((node, i) => {
    const policy = parsePolicy(reader, node, i, source);
    if (names.has(policy.name)) {
      reader.fail(node, `duplicate policy name "${policy.name}" (first defined at line ${names.get(policy.name)})`);
    }
    names.set(policy.name, reader.lineOf(node));
    policies.push(policy);
  });
  let notify: PolicyFile['notify'];
  if (top.has('notify')) {
    const n = reader.mapping(top.get('notify'), 'notify', ['url', 'platform', 'on']);
    notify = {
      url: reader.string(n.get('url'), 'notify.url'),
      platform: reader.string(n.get('platform'), 'notify.platform'),
      on: reader.stringList(n.get('on'), 'notify.on').map((e) => e.value),
    };
  }
  const tests = reader.list(top.get('tests'), 'tests').map((node, i) => parseTestCase(reader, node, `tests[${i}]`));
  return { source, version, defaultAction, policies, tests, notify };
}

function parsePolicy(reader: YamlReader, node: Node | null, index: number, source: string): Policy {
  const where = `policies[${index}]`;
  const p = reader.mapping(node, where, ['name', 'description', 'priority', 'enabled', 'match', 'rules']);
  const name = reader.string(p.get('name'), `${where}.name`).trim();
  if (name === '') reader.fail(node, `${where} has no name (every policy needs a unique name)`);
  const at = `policy "${name}"`;
  const priority = reader.int(p.get('priority'), `${at} priority`);
  const enabled = p.has('enabled') && !reader.isNull(p.get('enabled')) ? reader.bool(p.get('enabled'), `${at} enabled`) : true;
  const m = reader.mapping(p.get('match'), `${at} match`, ['agent', 'session', 'tool']);
  const agent = globField(reader, m.get('agent'), `${at} match.agent`);
  const session = globField(reader, m.get('session'), `${at} match.session`);
  const toolNode = m.get('tool');
  const toolEntries = reader.isNull(toolNode)
    ? []
    : isSeq(toolNode)
      ? reader.stringList(toolNode, `${at} match.tool`)
      : [{ value: reader.string(toolNode, `${at} match.tool`), node: toolNode ?? null }];
  const tools = toolEntries.filter((e) => e.value.trim() !== '').map((e) => checkedGlob(reader, e.node, e.value, `${at} match.tool`));
  const rules = reader.list(p.get('rules'), `${at} rules`).map((ruleNode, i) => parseRule(reader, ruleNode, `${at} rules[${i}]`, `${source}#${name}#${i}`));
  return {
    name,
    description: reader.string(p.get('description'), `${at} description`),
    priority: priority === 0 ? 100 : priority,
    enabled,
    match: { agent, session, tools },
    rules,
    source,
  };
}

/** match.agent / match.session: one glob, empty -> `*`. */
function globField(reader: YamlReader, node: Node | null | undefined, where: string): Glob {
  const value = reader.string(node, where);
  return checkedGlob(reader, node ?? null, value.trim() === '' ? '*' : value, where);
}

function parseAction(reader: YamlReader, node: Node | null | undefined, where: string): Action {
  const raw = reader.string(node, where).trim().toLowerCase();
  if (raw === 'require_approval') reader.fail(node, `${where}: action "require_approval" was removed in v0.9.9; use "ask"`);
  const action = ACTIONS[raw];
  if (action === undefined) {
    reader.fail(node, raw === '' ? `${where}: action is missing` : `${where}: unknown action "${raw}" (allowed: allow, deny, ask, watch, log, webhook)`);
  }
  return action;
}

function parseRule(reader: YamlReader, node: Node | null, where: string, key: string): Rule {
  const r = reader.mapping(node, where, ['action', 'when', 'message', 'ask', 'webhook', 'expires_at', 'once', 'added']);
  const action = parseAction(reader, r.get('action'), `${where}`);
  const rule: Rule = {
    action,
    when: compileCondition(reader, r.get('when'), `${where} when`),
    message: reader.string(r.get('message'), `${where} message`),
    once: reader.bool(r.get('once'), `${where} once`),
    key,
    line: reader.lineOf(node),
  };
  if (r.has('ask')) {
    const a = reader.mapping(r.get('ask'), `${where} ask`, ['audit', 'headless_only']);
    rule.ask = { audit: reader.bool(a.get('audit'), `${where} ask.audit`), headlessOnly: reader.bool(a.get('headless_only'), `${where} ask.headless_only`) };
  }
  if (r.has('webhook') || action === 'webhook') {
    const w = reader.mapping(r.get('webhook'), `${where} webhook`, ['url', 'timeout', 'fail_open']);
    const url = reader.string(w.get('url'), `${where} webhook.url`).trim();
    if (action === 'webhook' && url === '') reader.fail(node, `${where}: action webhook needs webhook.url`);
    if (url !== '' && !/^https?:\/\/[^\s/]+/i.test(url)) reader.fail(w.get('url'), `${where} webhook.url "${url}" is not an http(s) URL`);
    const timeoutText = reader.string(w.get('timeout'), `${where} webhook.timeout`).trim();
    let timeoutMs = 5000;
    if (timeoutText !== '') {
      const parsed = parseGoDuration(timeoutText);
      if (parsed === undefined || parsed <= 0) reader.fail(w.get('timeout'), `${where} webhook.timeout "${timeoutText}" is not a positive duration like 5s`);
      timeoutMs = Math.min(parsed, 30_000);
    }
    rule.webhook = { url, timeoutMs, failOpen: reader.bool(w.get('fail_open'), `${where} webhook.fail_open`) };
  }
  for (const field of ['expires_at', 'added'] as const) {
    if (!r.has(field) || reader.isNull(r.get(field))) continue;
    const text = reader.string(r.get(field), `${where} ${field}`).trim();
    const date = /^\d{4}-\d{2}-\d{2}/.test(text) ? new Date(text) : new Date(NaN);
    if (Number.isNaN(date.getTime())) reader.fail(r.get(field), `${where} ${field} "${text}" is not a timestamp like 2026-01-31T12:00:00Z`);
    if (field === 'expires_at') rule.expiresAt = date;
  }
  return rule;
}

function parseTestCase(reader: YamlReader, node: Node | null, where: string): TestCase {
  const t = reader.mapping(node, where, ['name', 'description', 'tool', 'agent', 'session', 'params', 'expect', 'expect_message']);
  const name = reader.string(t.get('name'), `${where}.name`);
  const at = name !== '' ? `test "${name}"` : where;
  const expectNode = t.get('expect');
  const expectRaw = reader.string(expectNode, `${at} expect`).trim().toLowerCase();
  const expect = expectRaw === 'require_approval' ? 'ask' : ACTIONS[expectRaw];
  if (expect === undefined) reader.fail(expectNode ?? node, `${at}: expect must be one of allow, deny, ask, watch, webhook (got "${expectRaw}")`);
  const params = reader.plain(t.get('params'));
  if (params !== null && (typeof params !== 'object' || Array.isArray(params))) reader.fail(t.get('params'), `${at}: params must be a mapping`);
  const expectMessage = t.has('expect_message') ? reader.string(t.get('expect_message'), `${at} expect_message`) : undefined;
  const tool = reader.string(t.get('tool'), `${at} tool`).trim();
  return {
    name,
    tool: tool === '' ? 'exec' : tool,
    agent: t.has('agent') ? reader.string(t.get('agent'), `${at} agent`) : 'test',
    session: reader.string(t.get('session'), `${at} session`),
    params: (params ?? {}) as Record<string, unknown>,
    expect,
    ...(expectMessage !== undefined ? { expectMessage } : {}),
    line: reader.lineOf(node),
  };
}
